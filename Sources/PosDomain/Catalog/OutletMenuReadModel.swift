import Foundation

/// What an outlet sells at one moment (`GET /outlets/{outletId}/menu?at=`): its live menus served
/// at that time in the outlet's zone, each item with the outlet's price and whether it can be
/// ordered (a snoozed item is listed, unavailable, with when its snooze ends). Pure: the service
/// gathers the inputs and caches the answer.
public enum OutletMenuReadModel {
    public struct Inputs: Sendable {
        public var outlet: Outlet
        public var menus: [OutletMenu]
        /// itemCode → snooze end, from `POST /outlets/{id}/items/snooze` (these win over the menus' own).
        public var snoozes: [String: Int64]
        /// itemCode → the outlet's price as decimal text, from products sync; the menu's price otherwise.
        public var prices: [String: String]

        public init(outlet: Outlet, menus: [OutletMenu], snoozes: [String: Int64] = [:], prices: [String: String] = [:]) {
            self.outlet = outlet
            self.menus = menus
            self.snoozes = snoozes
            self.prices = prices
        }
    }

    /// The answer as JSON, in a stable order (menus as stored, categories and items as the menu lists them).
    public static func view(_ inputs: Inputs, at instant: Int64) -> JSONValue {
        .object(header(inputs.outlet, at: instant) + [("menus", menus(inputs, at: instant))])
    }

    /// The fields before `menus`, which change with every instant.
    public static func header(_ outlet: Outlet, at instant: Int64) -> [(String, JSONValue)] {
        [
            ("outletId", .string(outlet.id)),
            ("at", .string(RFC3339.format(milliseconds: instant))),
            ("isOpen", .bool(outlet.isOpen)),
            ("isBusy", .bool(outlet.isBusy(at: instant))),
        ]
    }

    /// The menus served at `instant`. It changes only with ``state(_:at:)``, so callers may keep it
    /// per state.
    public static func menus(_ inputs: Inputs, at instant: Int64) -> JSONValue {
        .array(served(inputs, at: instant).map { menu(in: $0, inputs: inputs, at: instant) })
    }

    /// What the menus part depends on at `instant`: the menus served and the items snoozed then.
    public static func state(_ inputs: Inputs, at instant: Int64) -> String {
        let snoozed = (inputs.snoozes.filter { $0.value > instant }.map { "\($0.key)@\($0.value)" }
            + inputs.menus.flatMap { $0.snoozed.filter { $0.value > instant }.map { "\($0.key)@\($0.value)" } }).sorted()
        return "\(served(inputs, at: instant).map(\.menuId))|\(snoozed)"
    }

    private static func served(_ inputs: Inputs, at instant: Int64) -> [OutletMenu] {
        let zone = TimeZone(identifier: inputs.outlet.timezone) ?? TimeZone(identifier: "UTC")!
        let local = MenuAvailability.localTime(of: instant, in: zone)
        return inputs.menus.filter { MenuAvailability.isServed($0.availabilities, local: local) }
    }

    private static func menu(in menu: OutletMenu, inputs: Inputs, at instant: Int64) -> JSONValue {
        .object([
            ("menuId", .string(menu.menuId)),
            ("name", .string(menu.name)),
            ("menuType", .integer(menu.menuType)),
            ("categories", .array(menu.categories.map { category in
                .object([
                    ("name", .string(category.name)),
                    ("items", .array(category.productIds.compactMap { menu.products[$0] }.map { product in
                        var fields = entry(product, menu: menu, inputs: inputs, at: instant)
                        fields.append(("modifierGroups", .array(product.children.compactMap { menu.modifierGroups[$0] }.map { group in
                            .object([
                                ("name", .string(group.name)),
                                ("min", group.min.map(JSONValue.integer) ?? .null),
                                ("max", group.max.map(JSONValue.integer) ?? .null),
                                ("options", .array(group.children.compactMap { menu.modifiers[$0] }.map { option in
                                    .object(entry(option, menu: menu, inputs: inputs, at: instant))
                                })),
                            ])
                        })))
                        return .object(fields)
                    })),
                ])
            })),
        ])
    }

    /// An item's or option's fields: code, name, price, and whether it can be ordered at `instant`.
    private static func entry(_ entry: OutletMenu.Entry, menu: OutletMenu, inputs: Inputs, at instant: Int64) -> [(String, JSONValue)] {
        let code = entry.plu ?? entry.id
        let snoozeEnd = inputs.snoozes[code] ?? menu.snoozed[code]
        let snoozed = MenuAvailability.isSnoozed(until: snoozeEnd, at: instant)
        let price: JSONValue = inputs.prices[code].map(JSONValue.number) ?? entry.priceMinor.map { .number(menu.decimalText($0)) } ?? .null
        return [
            ("itemCode", .string(code)),
            ("name", .string(entry.name)),
            ("price", price),
            ("available", .bool(!snoozed)),
            ("snoozeEnd", snoozed ? snoozeEnd.map { .string(RFC3339.format(milliseconds: $0)) } ?? .null : .null),
        ]
    }
}
