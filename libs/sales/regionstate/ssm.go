package regionstate

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// ErrParameterNotFound says the state parameter does not exist.
var ErrParameterNotFound = errors.New("region state parameter not found")

// SSMAPI is the part of the SSM client used here.
type SSMAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, opts ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

// SSM reads and writes the state parameter Name.
type SSM struct {
	Client SSMAPI
	Name   string
}

// Get implements Source with one GetParameter.
func (s SSM) Get(ctx context.Context) (State, error) {
	out, err := s.Client.GetParameter(ctx, &ssm.GetParameterInput{Name: &s.Name, WithDecryption: ptr(true)})
	var nf *types.ParameterNotFound
	if errors.As(err, &nf) {
		return Unknown, fmt.Errorf("%w: %s", ErrParameterNotFound, s.Name)
	}
	if err != nil {
		return Unknown, fmt.Errorf("read region state %s: %w", s.Name, err)
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return Unknown, fmt.Errorf("%w: %s has no value", ErrInvalidState, s.Name)
	}
	return Parse(*out.Parameter.Value)
}

// Set writes the state (operators only: IAM allows no one else).
func (s SSM) Set(ctx context.Context, st State) error {
	if _, err := Parse(string(st)); err != nil {
		return err
	}
	_, err := s.Client.PutParameter(ctx, &ssm.PutParameterInput{
		Name:      &s.Name,
		Value:     ptr(string(st)),
		Type:      types.ParameterTypeString,
		Overwrite: ptr(true),
	})
	if err != nil {
		return fmt.Errorf("write region state %s=%s: %w", s.Name, st, err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
