// Package shim hands the upstream Terraform Docker provider's SDKv2 provider to the bridge; its
// module path lies under the upstream's (terraform-providers/terraform-provider-docker, as the
// upstream go.mod names itself), which Go requires to import the internal package.
package shim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// NewProvider is the upstream's SDKv2 provider: the part pulumi-docker bridges (its
// plugin-framework half, docker_compose and a few data sources, is left out there too).
func NewProvider() *schema.Provider { return provider.New("dev")() }
