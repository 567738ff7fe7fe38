import Foundation
import PosConnectors
import PosDomain
import PosStorage

/// A POS's catalogue imported on demand (`POST /provider-connections/{slug}/import {outletId}`):
/// a `pos.import_menu` job on the outbox reads it through the connector's `MenuImporting`, then
/// runs it through products sync (provider = the POS) and the outlet's menu sync, so an import is
/// exactly what a POS adapter pushing the same catalogue would have done.
public struct MenuImportService: Sendable {
    /// Name of the outbox job.
    public static let job = DeliveryKind.importJob

    private let outbox: any OutboxStore
    private let catalog: any CatalogStore
    private let providers: any ProviderStore
    private let deliverer: ConnectorDeliverer
    private let menus: MenuService
    private let clock: ServiceClock

    public init(outbox: any OutboxStore, catalog: any CatalogStore, providers: any ProviderStore, deliverer: ConnectorDeliverer, menus: MenuService,
                clock: @escaping ServiceClock) {
        self.outbox = outbox
        self.catalog = catalog
        self.providers = providers
        self.deliverer = deliverer
        self.menus = menus
        self.clock = clock
    }

    /// Queues the import; returns the job's id (a delivery id, readable at `GET /jobs/{id}`).
    public func start(slug: String, outletId: String, tenant: Tenant) async throws -> String {
        guard deliverer.registry.connector(slug) != nil else { throw ServiceError.notFound("unknown provider \"\(slug)\"") }
        guard deliverer.registry.connector(slug, as: (any MenuImporting).self) != nil else {
            throw ServiceError.invalid(field: "slug", message: "\(slug) cannot import its menu",
                                       details: "capabilities: \(deliverer.registry.capabilities(slug).map(\.rawValue).joined(separator: ", "))")
        }
        guard let outlet = try await translatingStoreErrors({ try await catalog.outlet(tenantId: tenant.id, id: outletId) }) else {
            throw ServiceError.invalid(field: "outletId", message: "no outlet with id \"\(outletId)\"")
        }
        guard let mapping = try await translatingStoreErrors({ try await providers.outletProvider(tenantId: tenant.id, outletId: outlet.id) }),
              mapping.providerSlug == slug
        else {
            throw ServiceError.invalid(field: "outletId", message: "outlet \"\(outletId)\" is not mapped to \(slug)",
                                       details: "an admin maps the outlet to its provider first")
        }
        let event = OutboxEvent(id: UUID().uuidString.lowercased(), tenantId: tenant.id, type: Self.job, subject: EventSubject(.outlet, id: outlet.id),
                                outletId: outlet.id, payload: JSONValue.object([("outletId", .string(outlet.id))]).bytes, createdAt: clock())
        let planned = try await translatingStoreErrors {
            try await outbox.publish(event, connector: slug, makeDeliveryId: { UUID().uuidString.lowercased() })
        }
        guard let job = planned.first else { throw ServiceError.unavailable("the import job was not queued") }
        return job.delivery.id
    }

    /// One attempt of an import job.
    func run(_ delivery: Delivery) async -> ConnectorOutcome {
        let outletId = delivery.subject.id
        let outlet: Outlet
        let found: Result<(any MenuImporting, ProviderConnection, OutletProvider), ConnectorDeliverer.RouteProblem>
        do {
            guard let value = try await catalog.outlet(tenantId: delivery.tenantId, id: outletId) else {
                return .configuration("outlet \(outletId) no longer exists")
            }
            outlet = value
            found = try await deliverer.route(slug: delivery.connector, tenantId: delivery.tenantId, outletId: outletId,
                                              as: (any MenuImporting).self, what: "import its menu")
        } catch {
            return .failed(.storage, "could not read the outlet or its provider configuration", retryable: true)
        }
        guard case .success(let (connector, connection, mapping)) = found else {
            if case .failure(let problem) = found { return .configuration(problem.message) }
            return .notSent
        }
        guard let code = outlet.currency, let currency = Currency(code: code) else {
            return .configuration("outlet \(outletId) has no currency; set it to price the imported menu")
        }
        let started = clock()
        let imported: ImportedMenu
        do throws(ConnectorFailure) {
            let access: ProviderAccess
            do throws(CredentialFailure) {
                access = try deliverer.access(for: connection, connector: connector)
            } catch {
                return .credentialFailed(error)
            }
            imported = try await connector.importMenu(POSMenuRequest(externalOutletId: mapping.externalId,
                                                                     settings: JSONValue(parsing: mapping.settings) ?? .object([]),
                                                                     access: access, currency: currency))
        } catch {
            return .failed(error.isAuthFailure ? .auth : .rejected, error.message, retryable: !error.isAuthFailure, durationMs: clock() - started)
        }
        let durationMs = clock() - started
        do {
            let products = try Self.products(imported)
            let now = clock()
            let synced = try await catalog.syncProducts(tenantId: delivery.tenantId, provider: delivery.connector, products, at: now,
                                                        repriced: MenuService.repriced(tenantId: delivery.tenantId, provider: delivery.connector, at: now))
            let document = Self.menuDocument(imported, slug: delivery.connector, digits: currency.exponent)
            let menu = try OutletMenu.menus(from: .array([document]))
            let summary = try await menus.syncMenus(outlet: outlet, menu, documents: [document], reason: "menu imported from \(delivery.connector)")
            let counts = synced.summary
            return ConnectorOutcome(statusCode: 200, failureClass: nil, error: nil,
                                    responseExcerpt: "imported \(imported.products.count) products (created \(counts.created), updated \(counts.updated), "
                                        + "unchanged \(counts.unchanged), deleted \(counts.deleted)); menu \(summary.changed ? "updated" : "unchanged")",
                                    signedWith: nil, retryable: false, retryAfterMs: nil, externalOrderId: nil, durationMs: durationMs)
        } catch let error as ValidationError {
            return .failed(.mapping, "the POS menu cannot be stored: \(error.field) \(error.message)", retryable: false, durationMs: durationMs)
        } catch {
            return .failed(.storage, "could not store the imported menu: \(error)", retryable: true, durationMs: durationMs)
        }
    }

    /// The POS catalogue as products of our model: item code = the POS's PLU (its id without one).
    static func products(_ menu: ImportedMenu) throws(ValidationError) -> [Product] {
        let groups = Dictionary(menu.modifierGroups.map { ($0.externalId, $0) }, uniquingKeysWith: { first, _ in first })
        var seen: Set<String> = []
        var products: [Product] = []
        for (index, product) in menu.products.enumerated() {
            let code = product.plu ?? product.externalId
            guard seen.insert(code).inserted else { continue }
            var modifierGroups: [Product.ModifierGroup] = []
            for group in product.modifierGroupIds.compactMap({ groups[$0] }) {
                var options: [Product.ModifierOption] = []
                for option in group.options {
                    options.append(Product.ModifierOption(itemCode: option.plu ?? option.externalId, name: option.name,
                                                          price: try price(option.price, field: "modifierGroups.\(group.externalId).price")))
                }
                modifierGroups.append(Product.ModifierGroup(code: group.externalId, name: group.name, min: group.minSelections ?? 0,
                                                            max: group.maxSelections ?? options.count, options: options))
            }
            products.append(Product(itemCode: code, name: product.name, price: try price(product.price, field: "products[\(index)].price"),
                                    category: product.category, modifierGroups: modifierGroups))
        }
        return products
    }

    private static func price(_ money: Money?, field: String) throws(ValidationError) -> CatalogPrice {
        guard let money else { return CatalogPrice(tenThousandths: 0) }
        do {
            return try CatalogPrice(parsing: money.decimalString)
        } catch {
            throw ValidationError(field: field, message: "\(money.decimalString) cannot be kept as a catalog price")
        }
    }

    /// One menu of everything the POS sells, by category, in the menu-push shape.
    static func menuDocument(_ menu: ImportedMenu, slug: String, digits: Int) -> JSONValue {
        let groupIds = Set(menu.products.flatMap(\.modifierGroupIds))
        let groups = menu.modifierGroups.filter { groupIds.contains($0.externalId) }
        var categories: [(String, [String])] = []
        for product in menu.products {
            let name = product.category ?? "All"
            if let index = categories.firstIndex(where: { $0.0 == name }) { categories[index].1.append(product.externalId) } else { categories.append((name, [product.externalId])) }
        }
        func entry(plu: String?, name: String, price: Money?, children: [String]) -> JSONValue {
            .object([("plu", plu.map(JSONValue.string) ?? .null), ("name", .string(name)),
                     ("price", price.map { .integer($0.minorUnits) } ?? .null), ("subProducts", .array(children.map(JSONValue.string)))])
        }
        return .object([
            ("menuId", .string("\(slug)-import")), ("menu", .string("\(slug) menu")), ("menuType", .integer(0)), ("decimalDigits", .integer(digits)),
            ("availabilities", .array([])),
            ("categories", .array(categories.map { .object([("name", .string($0.0)), ("products", .array($0.1.map(JSONValue.string)))]) })),
            ("products", .object(uniqued(menu.products.map { ($0.externalId, entry(plu: $0.plu, name: $0.name, price: $0.price, children: $0.modifierGroupIds.filter(groupIds.contains))) }))),
            ("modifierGroups", .object(uniqued(groups.map { group in
                (group.externalId, entry(plu: nil, name: group.name, price: nil, children: group.options.map { "\(group.externalId)/\($0.externalId)" }))
            }))),
            ("modifiers", .object(uniqued(groups.flatMap { group in
                group.options.map { ("\(group.externalId)/\($0.externalId)", entry(plu: $0.plu ?? $0.externalId, name: $0.name, price: $0.price, children: [])) }
            }))),
        ])
    }

    private static func uniqued(_ pairs: [(String, JSONValue)]) -> [(String, JSONValue)] {
        var seen: Set<String> = []
        return pairs.filter { seen.insert($0.0).inserted }
    }
}
