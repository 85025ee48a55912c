package replay

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/salesplatform/libs/sales/lake"
)

// ListAPI is the part of the S3 client that lists the lake.
type ListAPI interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// LatestGeneration returns the highest reprocessing generation present in
// the lake (0 when there is none): the folders reprocess/g<N>/.
func LatestGeneration(ctx context.Context, api ListAPI, bucket string) (int, error) {
	prefix := lake.PrefixReprocess + "/"
	in := &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix, Delimiter: aws.String("/")}
	latest := 0
	for range 10_000 {
		out, err := api.ListObjectsV2(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("list generations in s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, p := range out.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(p.Prefix), prefix), "/")
			if n, err := strconv.Atoi(strings.TrimPrefix(name, "g")); err == nil && strings.HasPrefix(name, "g") && n > latest {
				latest = n
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return latest, nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	return 0, fmt.Errorf("list generations in s3://%s/%s: too many pages", bucket, prefix)
}
