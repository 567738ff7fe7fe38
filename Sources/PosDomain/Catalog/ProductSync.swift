/// Reads a `POST /products/sync` body into products, naming the first invalid field by its JSON
/// path (`products[3].modifierGroups[0].options[1].price`). Unknown keys are refused at every level.
public enum ProductValidator {
    /// Most products one sync may carry (the body limit usually comes first).
    public static let maxProducts = 10_000
    /// Most entries of any one list inside a product (groups, options, sections, items, variants, outlet prices).
    public static let maxListCount = 500
    /// Most a group or section may ask for.
    public static let maxChoices = 1_000

    static let productKeys: Set<String> = ["itemCode", "name", "description", "price", "type", "category", "outletPrices", "modifierGroups",
                                           "sections", "variants"]

    public static func products(_ root: JSONNode) throws(ValidationError) -> [Product] {
        let body = try FieldReader.object(root, path: "")
        try body.rejectUnknownKeys(allowed: ["products"])
        let elements = try body.array("products", minCount: 0)
        guard elements.count <= maxProducts else {
            throw ValidationError(field: "products", message: "must have at most \(maxProducts) products; sync in one call per provider")
        }
        var products: [Product] = []
        var firstPath: [String: String] = [:]
        for element in elements {
            let product = try product(try FieldReader.object(element.node, path: element.path))
            let path = "\(element.path).itemCode"
            if let first = firstPath[product.itemCode] {
                throw ValidationError(field: path, message: "duplicates \(first) (\"\(product.itemCode)\"); item codes are unique in a sync")
            }
            firstPath[product.itemCode] = path
            products.append(product)
        }
        return products
    }

    static func product(_ reader: FieldReader) throws(ValidationError) -> Product {
        try reader.rejectUnknownKeys(allowed: productKeys, kind: "a product field")
        let itemCode = try reader.identifier("itemCode")
        let name = try reader.string("name", maxLength: 500)
        let description = try reader.optionalText("description", maxLength: 5_000)
        let price = try reader.price("price")
        let typeText = try reader.string("type", maxLength: 32)
        guard let type = ProductType(rawValue: typeText) else {
            throw ValidationError(field: reader.path("type"), message: "must be one of: \(ProductType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let category = try reader.optionalText("category", maxLength: 500)

        var outletPrices: [Product.OutletPrice] = []
        var outlets = Unique(kind: "outletId")
        for element in try reader.optionalArray("outletPrices", maxCount: maxListCount) {
            let entry = try FieldReader.object(element.node, path: element.path)
            try entry.rejectUnknownKeys(allowed: ["outletId", "price"], kind: "an outlet price field")
            let outletId = try entry.identifier("outletId")
            try outlets.insert(outletId, at: entry.path("outletId"))
            outletPrices.append(Product.OutletPrice(outletId: outletId, price: try entry.price("price")))
        }

        var groups: [Product.ModifierGroup] = []
        var codes = Unique(kind: "code")
        for element in try reader.optionalArray("modifierGroups", maxCount: maxListCount) {
            let group = try FieldReader.object(element.node, path: element.path)
            try group.rejectUnknownKeys(allowed: ["code", "name", "min", "max", "options"], kind: "a modifier group field")
            let code = try group.identifier("code")
            try codes.insert(code, at: group.path("code"))
            let groupName = try group.string("name", maxLength: 500)
            var options: [Product.ModifierOption] = []
            var optionCodes = Unique(kind: "itemCode")
            for optionElement in try group.array("options", minCount: 1) {
                let option = try FieldReader.object(optionElement.node, path: optionElement.path)
                try option.rejectUnknownKeys(allowed: ["itemCode", "name", "price"], kind: "a modifier option field")
                let optionCode = try option.identifier("itemCode")
                try optionCodes.insert(optionCode, at: option.path("itemCode"))
                options.append(Product.ModifierOption(itemCode: optionCode, name: try option.string("name", maxLength: 500),
                                                      price: try option.price("price")))
            }
            let (min, max) = try choices(group, of: options.count, named: "options")
            groups.append(Product.ModifierGroup(code: code, name: groupName, min: min, max: max, options: options))
        }

        var sections: [Product.Section] = []
        let sectionElements = try reader.optionalArray("sections", maxCount: maxListCount)
        switch (type, sectionElements.isEmpty) {
        case (.bundle, true): throw ValidationError(field: reader.path("sections"), message: "is required for a bundle: at least one section")
        case (.single, false), (.variant, false): throw ValidationError(field: reader.path("sections"), message: "only a bundle has sections")
        default: break
        }
        for element in sectionElements {
            let section = try FieldReader.object(element.node, path: element.path)
            try section.rejectUnknownKeys(allowed: ["name", "min", "max", "items"], kind: "a section field")
            let sectionName = try section.string("name", maxLength: 500)
            var items: [Product.SectionItem] = []
            var itemCodes = Unique(kind: "itemCode")
            for itemElement in try section.array("items", minCount: 1) {
                let item = try FieldReader.object(itemElement.node, path: itemElement.path)
                try item.rejectUnknownKeys(allowed: ["itemCode", "price"], kind: "a section item field")
                let code = try item.identifier("itemCode")
                try itemCodes.insert(code, at: item.path("itemCode"))
                items.append(Product.SectionItem(itemCode: code, price: try item.optionalPrice("price")))
            }
            let (min, max) = try choices(section, of: items.count, named: "items")
            sections.append(Product.Section(name: sectionName, min: min, max: max, items: items))
        }

        var variants: [Product.Variant] = []
        let variantElements = try reader.optionalArray("variants", maxCount: maxListCount)
        switch (type, variantElements.isEmpty) {
        case (.variant, true): throw ValidationError(field: reader.path("variants"), message: "is required for a variant product: at least one variant")
        case (.single, false), (.bundle, false): throw ValidationError(field: reader.path("variants"), message: "only a variant product has variants")
        default: break
        }
        var variantCodes = Unique(kind: "itemCode")
        for element in variantElements {
            let variant = try FieldReader.object(element.node, path: element.path)
            try variant.rejectUnknownKeys(allowed: ["itemCode", "name", "price"], kind: "a variant field")
            let code = try variant.identifier("itemCode")
            guard code != itemCode else {
                throw ValidationError(field: variant.path("itemCode"), message: "must differ from the product's own itemCode")
            }
            try variantCodes.insert(code, at: variant.path("itemCode"))
            variants.append(Product.Variant(itemCode: code, name: try variant.string("name", maxLength: 500), price: try variant.price("price")))
        }

        return Product(itemCode: itemCode, name: name, description: description, price: price, type: type, category: category,
                       outletPrices: outletPrices, modifierGroups: groups, sections: sections, variants: variants)
    }

    /// `min` and `max` of a group or section: `min ≤ max`, at least one choice, and no more required
    /// than there are to choose from.
    private static func choices(_ reader: FieldReader, of count: Int, named list: String) throws(ValidationError) -> (Int, Int) {
        let min = try reader.integer("min", in: 0...maxChoices)
        let max = try reader.integer("max", in: 1...maxChoices)
        guard min <= max else { throw ValidationError(field: reader.path("min"), message: "must not be more than max (\(max))") }
        guard min <= count else {
            throw ValidationError(field: reader.path("min"), message: "asks for \(min) but there \(count == 1 ? "is" : "are") only \(count) \(list)")
        }
        return (min, max)
    }

    /// Codes seen so far in one list; the second of two equal ones is the error.
    private struct Unique {
        let kind: String
        var first: [String: String] = [:]

        mutating func insert(_ code: String, at path: String) throws(ValidationError) {
            if let earlier = first[code] {
                throw ValidationError(field: path, message: "duplicates \(earlier) (\"\(code)\")")
            }
            first[code] = path
        }
    }
}

/// What a full-replace sync does to one (tenant, provider)'s products, decided from what is stored.
public struct ProductSyncPlan: Sendable, Equatable {
    /// A stored product as the plan needs it.
    public struct Existing: Sendable, Equatable {
        public var itemCode: String
        public var contentHash: String
        public var isDeleted: Bool

        public init(itemCode: String, contentHash: String, isDeleted: Bool) {
            self.itemCode = itemCode
            self.contentHash = contentHash
            self.isDeleted = isDeleted
        }
    }

    public enum Action: String, Sendable, Equatable {
        case created
        case updated
        case deleted
        case unchanged
    }

    /// Payload products never stored before: inserted.
    public var inserts: [Product] = []
    /// Payload products stored already — changed, or soft-deleted and back again: rewritten (and un-deleted).
    public var rewrites: [Product] = []
    /// Live stored products the payload no longer has: soft-deleted.
    public var deletions: [String] = []
    /// Every item code the sync touched or confirmed, with what happened to it: the payload's in
    /// its order, then the deleted ones.
    public var actions: [ProductSyncAction] = []

    /// A product that comes back after being soft-deleted counts as `created`: to readers it is new again.
    public init(existing: [Existing], incoming: [Product]) {
        let stored = Dictionary(existing.map { ($0.itemCode, $0) }, uniquingKeysWith: { first, _ in first })
        var present = Set<String>()
        for product in incoming {
            present.insert(product.itemCode)
            guard let row = stored[product.itemCode] else {
                inserts.append(product)
                actions.append(ProductSyncAction(itemCode: product.itemCode, action: .created))
                continue
            }
            if row.isDeleted {
                rewrites.append(product)
                actions.append(ProductSyncAction(itemCode: product.itemCode, action: .created))
            } else if row.contentHash != product.contentHash {
                rewrites.append(product)
                actions.append(ProductSyncAction(itemCode: product.itemCode, action: .updated))
            } else {
                actions.append(ProductSyncAction(itemCode: product.itemCode, action: .unchanged))
            }
        }
        for row in existing where !row.isDeleted && !present.contains(row.itemCode) {
            deletions.append(row.itemCode)
            actions.append(ProductSyncAction(itemCode: row.itemCode, action: .deleted))
        }
    }

    /// What the sync did, once written.
    public var result: ProductSyncResult {
        var summary = ProductSyncSummary()
        for entry in actions {
            switch entry.action {
            case .created: summary.created += 1
            case .updated: summary.updated += 1
            case .deleted: summary.deleted += 1
            case .unchanged: summary.unchanged += 1
            }
        }
        return ProductSyncResult(summary: summary, actions: actions)
    }
}

public struct ProductSyncSummary: Sendable, Equatable {
    public var created = 0
    public var updated = 0
    public var deleted = 0
    public var unchanged = 0

    public init(created: Int = 0, updated: Int = 0, deleted: Int = 0, unchanged: Int = 0) {
        self.created = created
        self.updated = updated
        self.deleted = deleted
        self.unchanged = unchanged
    }
}

/// What a sync did: the counts, and each product's action.
public struct ProductSyncResult: Sendable, Equatable {
    public var summary: ProductSyncSummary
    public var actions: [ProductSyncAction]

    public init(summary: ProductSyncSummary, actions: [ProductSyncAction]) {
        self.summary = summary
        self.actions = actions
    }
}

public struct ProductSyncAction: Sendable, Equatable {
    public var itemCode: String
    public var action: ProductSyncPlan.Action

    public init(itemCode: String, action: ProductSyncPlan.Action) {
        self.itemCode = itemCode
        self.action = action
    }
}

extension Product {
    /// A stored ``Product/document`` read back, by the same rules a sync body passes.
    public init(document: JSONValue) throws(ValidationError) {
        let node: JSONNode
        do {
            node = try JSONParser.parse(document.bytes)
        } catch {
            throw ValidationError(field: "", message: "is not a product document: \(error)")
        }
        self = try ProductValidator.product(try FieldReader.object(node, path: ""))
    }
}
