import Foundation
import Hummingbird
import PosDomain
import PosHTTP
import PosServices

/// `/console/outlets`: each outlet's state (open, closed, busy) with buttons to change it, which
/// POS it is mapped to, what is snoozed, and the menu as partners read it.
struct OutletPages: Sendable {
    let kit: ConsoleKit

    static let outletsPerPage = 25
    /// The longest busy spell the form offers (a week); longer is "until told otherwise".
    static let maxBusyMinutes = 7 * 24 * 60

    func register(on router: Router<PosRequestContext>) {
        router.get("\(Console.root)/outlets", use: kit.page(list))
        router.get("\(Console.root)/outlets/:outletId", use: kit.page(detail))
        router.post("\(Console.root)/outlets/:outletId/status", use: kit.action(changeStatus))
        router.post("\(Console.root)/outlets/:outletId/busy", use: kit.action(changeBusy))
    }

    // MARK: Views

    struct SnoozedItem {
        let itemCode: String
        let name: String
        let until: String
    }

    struct MappingView {
        let providerSlug: String
        let externalId: String
    }

    struct OutletRow {
        let id: String
        let name: String
        let provider: String
        let externalId: String?
        let status: String
        let isOpen: Bool
        let busy: Bool
        let busyUntil: String?
        let state: String
        let mapping: MappingView?
        let snoozed: [SnoozedItem]
        let updatedAt: String
        /// Where its state forms come back to: `list` or `outlet`.
        let back: String
    }

    func row(_ outlet: Outlet, visit: Visit, menu: JSONValue?, back: String) async throws -> OutletRow {
        let tenant = try visit.tenant()
        let busy = outlet.isBusy(at: visit.now)
        let busyUntil = busy ? outlet.busyUntil.map(Format.time) : nil
        let mapping: MappingView?
        do {
            let found = try await kit.services.providers.outletProvider(outletId: outlet.id, tenant: tenant)
            mapping = MappingView(providerSlug: found.providerSlug, externalId: found.externalId)
        } catch ServiceError.notFound {
            mapping = nil
        }
        return OutletRow(
            id: outlet.id, name: outlet.name, provider: outlet.provider, externalId: outlet.externalId, status: outlet.status.rawValue,
            isOpen: outlet.isOpen, busy: busy, busyUntil: busyUntil,
            state: outlet.status.rawValue + (busy ? ", busy" + (busyUntil.map { " until \($0)" } ?? "") : ""),
            mapping: mapping, snoozed: menu.map(Self.snoozedItems) ?? [], updatedAt: Format.time(outlet.updatedAt), back: back)
    }

    struct ListView {
        let outlets: [OutletRow]
        let nextPage: String?
        let firstPage: String?
        let maxBusyMinutes: Int
        let notice: String?
    }

    @Sendable func list(_ visit: Visit) async throws -> Response {
        let tenant = try visit.tenant()
        let cursor = visit.query("cursor")
        let page = try await kit.services.catalog.outlets(PageQuery(limit: Self.outletsPerPage, cursor: cursor), provider: nil, tenant: tenant)
        var rows: [OutletRow] = []
        for outlet in page.outlets {
            rows.append(try await row(outlet, visit: visit, menu: try await partnerMenu(outletId: outlet.id, visit: visit), back: "list"))
        }
        let view = ListView(
            outlets: rows, nextPage: page.nextCursor.map { "\(Console.root)/outlets?" + QueryString.encode([("cursor", $0)]) },
            firstPage: cursor == nil ? nil : "\(Console.root)/outlets", maxBusyMinutes: Self.maxBusyMinutes, notice: Notice.text(visit.query("done")))
        return try kit.render("outlets", title: "Outlets", view: view, visit: visit, section: .outlets)
    }

    /// The read model partners get (`GET /outlets/{id}/menu`), parsed back for the table.
    private func partnerMenu(outletId: String, visit: Visit) async throws -> JSONValue? {
        guard let answer = try await kit.services.menus.menu(outletId: outletId, at: nil, tenant: try visit.tenant()).answer else { return nil }
        var bytes = answer.head
        bytes.append(contentsOf: answer.menus.readableBytesView)
        return JSONValue(parsing: String(decoding: bytes, as: UTF8.self))
    }

    // MARK: One outlet

    struct OptionRow {
        let itemCode: String
        let name: String
        let price: String
        let available: Bool
        let snoozeEnd: String?
    }

    struct GroupRow {
        let groupName: String
        let bounds: String
        let options: [OptionRow]
    }

    struct ItemRow {
        let itemCode: String
        let name: String
        let price: String
        let available: Bool
        let snoozeEnd: String?
        let groups: [GroupRow]
    }

    struct CategoryView {
        let categoryName: String
        let items: [ItemRow]
    }

    struct MenuView {
        let menuId: String
        let name: String
        let categories: [CategoryView]
    }

    struct DetailView {
        let outlet: OutletRow
        let timezone: String
        let currency: String
        let menuAt: String
        let menus: [MenuView]
        let maxBusyMinutes: Int
        let notice: String?
    }

    @Sendable func detail(_ visit: Visit) async throws -> Response {
        let tenant = try visit.tenant()
        let outlet = try await kit.services.catalog.outlet(id: try Self.outletId(visit), provider: nil, tenant: tenant)
        let readModel = try await partnerMenu(outletId: outlet.id, visit: visit)
        let currency = outlet.currency.flatMap { Currency(code: $0) }
        let menus = Self.array(readModel?["menus"]).map { menu in
            MenuView(menuId: menu["menuId"]?.stringValue ?? "", name: menu["name"]?.stringValue ?? "",
                     categories: Self.array(menu["categories"]).map { category in
                         CategoryView(categoryName: category["name"]?.stringValue ?? "", items: Self.array(category["items"]).map { item in
                             let entry = Self.option(item, currency: currency)
                             return ItemRow(itemCode: entry.itemCode, name: entry.name, price: entry.price, available: entry.available,
                                            snoozeEnd: entry.snoozeEnd,
                                            groups: Self.array(item["modifierGroups"]).map { group in
                                                GroupRow(groupName: group["name"]?.stringValue ?? "", bounds: Self.bounds(group),
                                                         options: Self.array(group["options"]).map { Self.option($0, currency: currency) })
                                            })
                         })
                     })
        }
        let view = DetailView(
            outlet: try await row(outlet, visit: visit, menu: readModel, back: "outlet"), timezone: outlet.timezone, currency: outlet.currency ?? "—",
            menuAt: readModel?["at"]?.stringValue ?? Format.time(visit.now), menus: menus, maxBusyMinutes: Self.maxBusyMinutes,
            notice: Notice.text(visit.query("done")))
        return try kit.render("outlet", title: outlet.name, view: view, visit: visit, section: .outlets)
    }

    static func array(_ value: JSONValue?) -> [JSONValue] {
        if case .array(let elements)? = value { return elements }
        return []
    }

    static func option(_ entry: JSONValue, currency: Currency?) -> OptionRow {
        let available: Bool = if case .bool(let flag)? = entry["available"] { flag } else { true }
        return OptionRow(itemCode: entry["itemCode"]?.stringValue ?? "", name: entry["name"]?.stringValue ?? "",
                         price: price(entry["price"], currency: currency), available: available, snoozeEnd: entry["snoozeEnd"]?.stringValue)
    }

    /// The price as the read model writes it (exact decimal text), with the outlet's currency.
    static func price(_ value: JSONValue?, currency: Currency?) -> String {
        guard case .number(let text)? = value else { return "—" }
        guard let currency, let money = try? Money.parse(text, currency: currency) else { return text }
        return money.description
    }

    static func bounds(_ group: JSONValue) -> String {
        let min = group["min"]?.integerValue
        let max = group["max"]?.integerValue
        switch (min, max) {
        case (nil, nil): return "any"
        case (let min?, nil): return "at least \(min)"
        case (nil, let max?): return "at most \(max)"
        case (let min?, let max?): return min == max ? "exactly \(min)" : "\(min) to \(max)"
        }
    }

    /// Items and options the read model lists as unavailable now, with when that ends.
    static func snoozedItems(_ menu: JSONValue) -> [SnoozedItem] {
        var seen: Set<String> = []
        var snoozed: [SnoozedItem] = []
        func visit(_ entry: JSONValue) {
            guard case .bool(false)? = entry["available"], let code = entry["itemCode"]?.stringValue, seen.insert(code).inserted else { return }
            snoozed.append(SnoozedItem(itemCode: code, name: entry["name"]?.stringValue ?? "", until: entry["snoozeEnd"]?.stringValue ?? "until unsnoozed"))
        }
        for menu in array(menu["menus"]) {
            for category in array(menu["categories"]) {
                for item in array(category["items"]) {
                    visit(item)
                    for group in array(item["modifierGroups"]) { array(group["options"]).forEach(visit) }
                }
            }
        }
        return snoozed
    }

    // MARK: Changes

    struct StatusForm: Decodable {
        let status: String
        let reason: String?
        let back: String?
    }

    @Sendable func changeStatus(_ visit: Visit) async throws -> Response {
        let outletId = try Self.outletId(visit)
        let form = try visit.form(StatusForm.self)
        guard let status = OutletStatus(rawValue: form.status) else {
            throw ServiceError.invalid(field: "status", message: "status must be one of: \(OutletStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let command = OutletStateCommand(change: .status(status), reason: try Self.reason(form.reason))
        _ = try await kit.services.catalog.changeState(outletId: outletId, command, provider: nil, tenant: try visit.tenant())
        return ConsoleKit.redirect(to: Self.back(form.back, outletId: outletId))
    }

    struct BusyForm: Decodable {
        /// `true` or `false`.
        let busy: String
        /// How long from now; blank (or the `until` time) for no end.
        let minutes: String?
        /// An RFC 3339 end, as the API takes it.
        let until: String?
        let reason: String?
        let back: String?
    }

    @Sendable func changeBusy(_ visit: Visit) async throws -> Response {
        let outletId = try Self.outletId(visit)
        let form = try visit.form(BusyForm.self)
        let change: OutletStateChange
        switch form.busy {
        case "false":
            change = .busy(false, until: nil)
        case "true":
            let minutes = WebhookPages.trimmed(form.minutes)
            let until = WebhookPages.trimmed(form.until)
            if !minutes.isEmpty {
                guard let count = Int(minutes), (1...Self.maxBusyMinutes).contains(count) else {
                    throw ServiceError.invalid(field: "minutes", message: "minutes must be a whole number from 1 to \(Self.maxBusyMinutes)")
                }
                change = .busy(true, until: visit.now + Int64(count) * 60_000)
            } else if !until.isEmpty {
                guard let time = RFC3339.parseMilliseconds(until) else {
                    throw ServiceError.invalid(field: "until", message: "until must be an RFC 3339 date-time such as 2026-03-16T15:05:33Z")
                }
                change = .busy(true, until: time)
            } else {
                change = .busy(true, until: nil)
            }
        default:
            throw ServiceError.invalid(field: "busy", message: "busy must be true or false")
        }
        let command = OutletStateCommand(change: change, reason: try Self.reason(form.reason))
        _ = try await kit.services.catalog.changeState(outletId: outletId, command, provider: nil, tenant: try visit.tenant())
        return ConsoleKit.redirect(to: Self.back(form.back, outletId: outletId))
    }

    /// Optional; at most 500 bytes as the API allows.
    static func reason(_ text: String?) throws -> String? {
        let reason = WebhookPages.trimmed(text)
        guard !reason.isEmpty else { return nil }
        guard reason.utf8.count <= 500 else { throw ServiceError.invalid(field: "reason", message: "reason must be at most 500 bytes") }
        return reason
    }

    /// Back to the list or the outlet's page: one of two fixed places, never a URL from the form.
    static func back(_ choice: String?, outletId: String) -> String {
        choice == "list" ? "\(Console.root)/outlets?done=state-changed"
            : "\(Console.root)/outlets/\(QueryString.escapePath(outletId))?done=state-changed"
    }

    static func outletId(_ visit: Visit) throws -> String {
        try visit.parameter("outletId")
    }
}
