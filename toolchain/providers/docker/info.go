// Package docker is our bridging of the upstream Terraform Docker provider
// (kreuzwerker/terraform-provider-docker) for Pulumi, with the tokens and field names
// pulumi_docker's Python SDK expects, as pulumi-docker's provider/resources.go sets them:
// docker_image is RemoteImage, docker_config ServiceConfig, the container deletes before it is
// replaced, `command`, `networks_advanced` and `name` keep their names, registry_auth is a list,
// the host defaults to DOCKER_HOST or the local socket, and auto-names are at most 255
// characters joined by "-". pulumi-docker's own provider module (which adds the native
// docker.Image resource) is not served by the Go module proxy here: docker.Image is absent.
package docker

import (
	"context"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	pulumitokens "github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/terraform-providers/terraform-provider-docker/shim"
)

// Version is stamped by the build (-X): the pulumi-docker release these tokens stand for.
var Version = "5.2.0"

func token(name string) pulumitokens.Type { return tfbridge.MakeResource("docker", "index", name) }

// Provider is the bridge's description of the provider; metadata is the bridge-metadata.json
// the schema generator wrote (nil while generating).
func Provider(metadata []byte) tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:            shimv2.NewProvider(shim.NewProvider()),
		Name:         "docker",
		Version:      Version,
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		GitHubOrg:    "kreuzwerker",
		License:      "Apache-2.0",
		Config: map[string]*tfbridge.SchemaInfo{
			"host": {Default: &tfbridge.DefaultInfo{
				EnvVars: []string{"DOCKER_HOST"},
				ComputeDefault: func(context.Context, tfbridge.ComputeDefaultOptions) (any, error) {
					return "unix:///var/run/docker.sock", nil
				},
			}},
			"registry_auth": {Name: "registryAuth", MaxItemsOne: tfbridge.False()},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_config": {Tok: token("ServiceConfig")},
			"docker_container": {
				Tok:                 token("Container"),
				DeleteBeforeReplace: true,
				Fields: map[string]*tfbridge.SchemaInfo{
					"command":           {Name: "command"},
					"networks_advanced": {Name: "networksAdvanced"},
				},
			},
			"docker_image": {Tok: token("RemoteImage"), Fields: map[string]*tfbridge.SchemaInfo{"name": {Name: "name"}}},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"docker_image": {Tok: tfbridge.MakeDataSource("docker", "index", "getRemoteImage")},
		},
		Python: &tfbridge.PythonInfo{RespectSchemaVersion: true},
	}
	info.MustComputeTokens(tokens.SingleModule("docker_", "index", tokens.MakeStandard("docker")))
	info.SetAutonaming(255, "-")
	return info
}
