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
        let zone = TimeZone(identifier: inputs.outlet.timezone) ?? TimeZone(identifier: "UTC")!
        let served = inputs.menus.filter { MenuAvailability.isServed($0.availabilities, at: instant, in: zone) }
        return .object([
            ("outletId", .string(inputs.outlet.id)),
            ("at", .string(RFC3339.format(milliseconds: instant))),
            ("isOpen", .bool(inputs.outlet.isOpen)),
            ("isBusy", .bool(inputs.outlet.isBusy(at: instant))),
            ("menus", .array(served.map { menu(in: $0, inputs: inputs, at: instant) })),
        ])
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
