package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ObjectAPI is the part of the S3 client the lake copier uses.
type ObjectAPI interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// ReplicaOfMetadata is the user metadata key set on every copied object,
// naming the region it was copied from (S3 marks replicas with
// x-amz-replication-status: REPLICA, which a client cannot set).
const ReplicaOfMetadata = "replica-of"

type objectInfo struct {
	modified time.Time
}

// listBucket lists every object of a bucket.
func listBucket(ctx context.Context, client ObjectAPI, bucket string) (map[string]objectInfo, error) {
	out := map[string]objectInfo{}
	var token *string
	for page := 0; page < 10_000; page++ {
		res, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, ContinuationToken: token})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", bucket, err)
		}
		for _, o := range res.Contents {
			out[aws.ToString(o.Key)] = objectInfo{modified: aws.ToTime(o.LastModified)}
		}
		if !aws.ToBool(res.IsTruncated) || res.NextContinuationToken == nil {
			return out, nil
		}
		token = res.NextContinuationToken
	}
	return out, errors.New("list " + bucket + ": too many pages")
}

// syncLakes runs one pass: every object of every bucket that another
// region's bucket lacks and that is at least Lag old is copied.
func (s *StandIn) syncLakes(ctx context.Context) error {
	listings := map[string]map[string]objectInfo{}
	for region, bucket := range s.cfg.Buckets {
		l, err := listBucket(ctx, s.clients[region].s3, bucket)
		if err != nil {
			return err
		}
		listings[region] = l
	}
	var firstErr error
	for src, objects := range listings {
		for _, dst := range s.otherRegions(src) {
			dstObjects, ok := listings[dst]
			if !ok {
				continue
			}
			pending := 0
			for key, info := range objects {
				if _, there := dstObjects[key]; there {
					continue
				}
				if s.Paused() || s.now().Before(info.modified.Add(s.Lag())) {
					pending++
					continue
				}
				outcome, err := s.copyObject(ctx, src, dst, key)
				s.metrics.objects.WithLabelValues(src, dst, outcome).Inc()
				if err != nil {
					pending++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				if outcome == OutcomeApplied {
					s.applied("lake", src, dst, info.modified)
				}
			}
			s.metrics.pending.WithLabelValues("lake", src, dst).Set(float64(pending))
			s.setLakePending(src, dst, pending)
		}
	}
	return firstErr
}

func (s *StandIn) copyObject(ctx context.Context, src, dst, key string) (string, error) {
	srcBucket, dstBucket := s.cfg.Buckets[src], s.cfg.Buckets[dst]
	obj, err := s.clients[src].s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &srcBucket, Key: &key})
	if err != nil {
		return OutcomeFailed, fmt.Errorf("get s3://%s/%s: %w", srcBucket, key, err)
	}
	body, err := io.ReadAll(io.LimitReader(obj.Body, 64<<20))
	obj.Body.Close()
	if err != nil {
		return OutcomeFailed, fmt.Errorf("read s3://%s/%s: %w", srcBucket, key, err)
	}
	meta := map[string]string{}
	for k, v := range obj.Metadata {
		meta[k] = v
	}
	if _, isReplica := meta[ReplicaOfMetadata]; isReplica {
		// A replica is not replicated again (CRR does not chain).
		return OutcomeSkippedEcho, nil
	}
	meta[ReplicaOfMetadata] = src
	_, err = s.clients[dst].s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &dstBucket, Key: &key, Body: bytesReader(body),
		ContentType: obj.ContentType, Metadata: meta,
		IfNoneMatch: aws.String("*"),
	})
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed {
		return OutcomeSkippedPresent, nil
	}
	if err != nil {
		return OutcomeFailed, fmt.Errorf("put s3://%s/%s: %w", dstBucket, key, err)
	}
	return OutcomeApplied, nil
}
