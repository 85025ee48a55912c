module github.com/salesplatform/cmd/salesctl

go 1.26.4

require github.com/salesplatform/libs/sales v0.0.0

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/cobra v1.10.2 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
)

replace github.com/salesplatform/libs/sales => ../../libs/sales
