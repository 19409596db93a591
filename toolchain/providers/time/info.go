// Package time is our bridging of the upstream Terraform time provider (hashicorp) for Pulumi,
// with the tokens pulumiverse_time's Python SDK expects (time:index/static:Static for
// time_static: module index, the Terraform name less its prefix). pulumiverse/pulumi-time's own
// provider module is not served by the Go module proxy here, so this replaces it.
package time

import (
	"github.com/hashicorp/terraform-provider-time/shim"
	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
)

// Version is stamped by the build (-X): the pulumiverse-time release these tokens stand for.
var Version = "0.1.1"

// Provider is the bridge's description of the provider; metadata is the bridge-metadata.json
// the schema generator wrote (nil while generating).
func Provider(metadata []byte) tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:            pf.ShimProvider(shim.NewProvider()),
		Name:         "time",
		Version:      Version,
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Publisher:    "pulumiverse",
		GitHubOrg:    "hashicorp",
		License:      "Apache-2.0",
	}
	info.MustComputeTokens(tokens.SingleModule("time_", "index", tokens.MakeStandard("time")))
	return info
}
