// Package random is our bridging of the upstream Terraform random provider for Pulumi: the
// tokens and settings pulumi_random's Python SDK expects (random:index/randomPassword:RandomPassword
// for random_password: every resource in module index, named Random + the Terraform name).
// pulumi-random's own provider module is not served by the Go module proxy here, so this
// replaces it; toolchain/build.sh generates the schema with ../tfgen and embeds it in ./cmd.
package random

import (
	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	"github.com/terraform-providers/terraform-provider-random/shim"
)

// Version is stamped by the build (-X): the pulumi-random release these tokens stand for.
var Version = "4.21.4"

// Provider is the bridge's description of the provider; metadata is the bridge-metadata.json
// the schema generator wrote (nil while generating).
func Provider(metadata []byte) tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:            pf.ShimProvider(shim.NewProvider()),
		Name:         "random",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Version:      Version,
		License:      "Apache-2.0",
		// pulumi_random's Python SDK marks state with the Terraform schema version.
		Python:                      &tfbridge.PythonInfo{RespectSchemaVersion: true},
		EnableAccurateBridgePreview: true,
		EnableRawStateDelta:         true,
	}
	info.MustComputeTokens(tokens.SingleModule("random_", "index",
		func(module, name string) (string, error) {
			return tokens.MakeStandard("random")(module, "Random"+name)
		}))
	return info
}
