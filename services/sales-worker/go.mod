module github.com/salesplatform/services/sales-worker

go 1.26.4

require github.com/salesplatform/libs/sales v0.0.0

replace github.com/salesplatform/libs/sales => ../../libs/sales
