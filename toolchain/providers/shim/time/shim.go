// Package shim hands the upstream Terraform time provider's constructor to the bridge; its
// module path lies under the upstream's, which Go requires to import the internal package.
package shim

import (
	fwprovider "github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-provider-time/internal/provider"
)

// NewProvider is the upstream plugin-framework provider.
func NewProvider() fwprovider.Provider { return provider.New() }
