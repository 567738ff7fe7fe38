import PosDomain
import PosStorage

/// Who may speak for a provider (`X-Provider`, default `cata`). A call about the whole tenant
/// (syncs, lists, product reads) needs the tenant's connection to that provider; a call about one
/// outlet needs the outlet mapped to it (`PUT /outlet-providers/{outletId}`). `cata` is the
/// platform itself and always allowed. Catalog and menu calls ask the same guard.
struct ProviderGuard: Sendable {
    let providers: any ProviderStore

    /// The provider a tenant-wide call speaks for; 403 naming `X-Provider` without the tenant's connection to it.
    func tenantWide(_ provider: String?, tenant: Tenant) async throws -> String {
        let slug = provider ?? CatalogService.platformProvider
        guard slug != CatalogService.platformProvider else { return slug }
        guard try await translatingStoreErrors({ try await providers.connection(tenantId: tenant.id, slug: slug) }) != nil else {
            throw ServiceError.forbidden("X-Provider \"\(slug)\" is not connected for this tenant; an admin creates the \(slug) provider connection first",
                                         field: "X-Provider")
        }
        return slug
    }

    /// A call about one outlet on a provider's behalf needs the outlet mapped to that provider.
    func perOutlet(_ provider: String?, outletId: String, tenant: Tenant) async throws {
        guard let slug = provider, slug != CatalogService.platformProvider else { return }
        let mapping = try await translatingStoreErrors { try await providers.outletProvider(tenantId: tenant.id, outletId: outletId) }
        guard mapping?.providerSlug == slug else {
            throw ServiceError.forbidden("outlet \"\(outletId)\" is not mapped to X-Provider \"\(slug)\"; an admin maps the outlet to \(slug) first",
                                         field: "X-Provider")
        }
    }
}
