package messaging_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/messaging"
)

func TestExtraAttributesAreAddedButNeverReplaceTheContract(t *testing.T) {
	cases := []struct {
		name  string
		extra map[string]string
		want  map[string]string
	}{
		{"none", nil, map[string]string{}},
		{"generation", map[string]string{messaging.AttrReprocessGeneration: "3"}, map[string]string{messaging.AttrReprocessGeneration: "3"}},
		{"cannot override event_type", map[string]string{messaging.AttrEventType: "Forged", "x": "y"}, map[string]string{"x": "y"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := &messaging.FakeSNS{}
			extra := map[string]string{}
			for k, v := range c.extra {
				extra[k] = v
			}
			p := messaging.NewPublisher(fake, "arn:aws:sns:us-east-1:123456789012:t", messaging.PublisherOptions{ExtraAttributes: extra})
			for k := range extra {
				extra[k] = "changed after construction"
			}
			envs := envelopes(t, 12)
			if err := p.Publish(context.Background(), envs).Err(); err != nil {
				t.Fatal(err)
			}
			got := fake.Published()
			if len(got) != 12 {
				t.Fatalf("%d published", len(got))
			}
			for _, m := range got {
				if v := aws.ToString(m.Attributes[messaging.AttrEventType].StringValue); v != string(domain.EventSaleCreated) {
					t.Fatalf("event_type = %q", v)
				}
				if len(m.Attributes) != 4+len(c.want) {
					t.Fatalf("attributes %v, want the 4 of the contract plus %v", m.Attributes, c.want)
				}
				for k, v := range c.want {
					if got := aws.ToString(m.Attributes[k].StringValue); got != v {
						t.Fatalf("%s = %q, want %q", k, got, v)
					}
				}
			}
		})
	}
}
