// Package shim hands the upstream Terraform provider's constructor to the bridge. The provider
// lives in an internal package; Go lets a package under the same module path prefix
// (github.com/terraform-providers/terraform-provider-random/...) import it, hence this module's
// path.
package shim

import (
	fwprovider "github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider is the upstream plugin-framework provider.
func NewProvider() fwprovider.Provider { return provider.New() }
