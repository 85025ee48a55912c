package replay

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// fakeMoveTasks is SQS's message move task API: a task moves `step`
// messages per listing until `total`.
type fakeMoveTasks struct {
	SQSAPI
	mu              sync.Mutex
	total, step     int64
	moved           int64
	started         int
	cancelled       bool
	rate            int32
	running         bool
	alreadyRunning  bool
	destinationSeen *string
}

func (f *fakeMoveTasks) StartMessageMoveTask(_ context.Context, in *sqs.StartMessageMoveTaskInput, _ ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started++
	f.running = true
	f.rate = aws.ToInt32(in.MaxNumberOfMessagesPerSecond)
	f.destinationSeen = in.DestinationArn
	return &sqs.StartMessageMoveTaskOutput{TaskHandle: aws.String("handle-1")}, nil
}

func (f *fakeMoveTasks) ListMessageMoveTasks(_ context.Context, _ *sqs.ListMessageMoveTasksInput, _ ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.alreadyRunning {
		f.running, f.alreadyRunning = true, false
	}
	if !f.running {
		return &sqs.ListMessageMoveTasksOutput{}, nil
	}
	status := "RUNNING"
	if f.moved >= f.total {
		status = "COMPLETED"
	} else if f.started > 0 || f.moved > 0 {
		f.moved = min(f.total, f.moved+f.step)
	}
	return &sqs.ListMessageMoveTasksOutput{Results: []types.ListMessageMoveTasksResultEntry{{
		TaskHandle: aws.String("handle-1"), Status: aws.String(status),
		ApproximateNumberOfMessagesMoved: f.moved, ApproximateNumberOfMessagesToMove: aws.Int64(f.total),
	}}}, nil
}

func (f *fakeMoveTasks) CancelMessageMoveTask(context.Context, *sqs.CancelMessageMoveTaskInput, ...func(*sqs.Options)) (*sqs.CancelMessageMoveTaskOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = true
	return &sqs.CancelMessageMoveTaskOutput{}, nil
}

func TestMoveTaskIsStartedFollowedAndCounted(t *testing.T) {
	cases := []struct {
		name        string
		fake        *fakeMoveTasks
		rate        float64
		target      string
		wantStarted int
		wantRate    int32
	}{
		{"starts a task back to the source", &fakeMoveTasks{total: 25, step: 10}, 0, "", 1, 0},
		{"rate and destination", &fakeMoveTasks{total: 5, step: 5}, 900, "arn:aws:sqs:us-east-1:1:other", 1, 500},
		{"follows a task already running", &fakeMoveTasks{total: 7, step: 7, alreadyRunning: true, moved: 1}, 0, "", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Open(Options{Command: "dlq redrive"})
			if err != nil {
				t.Fatal(err)
			}
			m := &RedriveMoveTask{API: c.fake, SourceARN: "arn:aws:sqs:us-east-1:1:dlq", TargetARN: c.target, Rate: c.rate, Poll: 1}
			done, err := m.Run(context.Background(), r)
			if err != nil || !done {
				t.Fatalf("done %t, %v", done, err)
			}
			s := r.Snapshot()
			if s.Counts.Published != c.fake.total || c.fake.started != c.wantStarted || c.fake.rate != c.wantRate {
				t.Fatalf("counts %+v, started %d, rate %d", s.Counts, c.fake.started, c.fake.rate)
			}
			if c.target != "" && aws.ToString(c.fake.destinationSeen) != c.target {
				t.Fatalf("destination %v", c.fake.destinationSeen)
			}
		})
	}
}

func TestMoveTaskIsCancelledOnInterrupt(t *testing.T) {
	f := &fakeMoveTasks{total: 1 << 40, step: 1}
	r, _ := Open(Options{Command: "dlq redrive"})
	ctx, cancel := context.WithCancel(context.Background())
	m := &RedriveMoveTask{API: f, SourceARN: "arn:aws:sqs:us-east-1:1:dlq", Poll: 1}
	go func() {
		for {
			f.mu.Lock()
			n := f.moved
			f.mu.Unlock()
			if n >= 3 {
				cancel()
				return
			}
		}
	}()
	done, err := m.Run(ctx, r)
	if done || err != nil || !f.cancelled {
		t.Fatalf("done %t, err %v, cancelled %t", done, err, f.cancelled)
	}
}
