package iamcheck

import "github.com/zclconf/go-cty/cty"

var ctyString = cty.String
