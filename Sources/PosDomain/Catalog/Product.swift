import Crypto

/// What kind of item a product is: sold alone, a bundle of sections, or a choice of variants.
public enum ProductType: String, Sendable, CaseIterable {
    case single
    case bundle
    case variant
}

/// A product as a POS syncs it (`POST /products/sync`). The model is one level deep, as the
/// original service's: product → modifier groups → modifier options; bundles have sections of items;
/// variants are their own item codes. Prices are ``CatalogPrice``s in major units.
public struct Product: Sendable, Equatable {
    public struct OutletPrice: Sendable, Equatable {
        public var outletId: String
        public var price: CatalogPrice

        public init(outletId: String, price: CatalogPrice) {
            self.outletId = outletId
            self.price = price
        }
    }

    public struct ModifierOption: Sendable, Equatable {
        public var itemCode: String
        public var name: String
        public var price: CatalogPrice

        public init(itemCode: String, name: String, price: CatalogPrice) {
            self.itemCode = itemCode
            self.name = name
            self.price = price
        }
    }

    /// Choose between `min` and `max` of the options.
    public struct ModifierGroup: Sendable, Equatable {
        public var code: String
        public var name: String
        public var min: Int
        public var max: Int
        public var options: [ModifierOption]

        public init(code: String, name: String, min: Int, max: Int, options: [ModifierOption]) {
            self.code = code
            self.name = name
            self.min = min
            self.max = max
            self.options = options
        }
    }

    /// One item of a bundle section; `price` is its price inside the bundle (nil: included).
    public struct SectionItem: Sendable, Equatable {
        public var itemCode: String
        public var price: CatalogPrice?

        public init(itemCode: String, price: CatalogPrice?) {
            self.itemCode = itemCode
            self.price = price
        }
    }

    /// A bundle's section: choose between `min` and `max` of its items.
    public struct Section: Sendable, Equatable {
        public var name: String
        public var min: Int
        public var max: Int
        public var items: [SectionItem]

        public init(name: String, min: Int, max: Int, items: [SectionItem]) {
            self.name = name
            self.min = min
            self.max = max
            self.items = items
        }
    }

    public struct Variant: Sendable, Equatable {
        public var itemCode: String
        public var name: String
        public var price: CatalogPrice

        public init(itemCode: String, name: String, price: CatalogPrice) {
            self.itemCode = itemCode
            self.name = name
            self.price = price
        }
    }

    public var itemCode: String
    public var name: String
    public var description: String?
    public var price: CatalogPrice
    public var type: ProductType
    public var category: String?
    /// Per-outlet price overrides.
    public var outletPrices: [OutletPrice]
    public var modifierGroups: [ModifierGroup]
    /// Only a bundle has sections.
    public var sections: [Section]
    /// Only a variant product has variants.
    public var variants: [Variant]

    public init(itemCode: String, name: String, description: String? = nil, price: CatalogPrice, type: ProductType = .single,
                category: String? = nil, outletPrices: [OutletPrice] = [], modifierGroups: [ModifierGroup] = [], sections: [Section] = [],
                variants: [Variant] = []) {
        self.itemCode = itemCode
        self.name = name
        self.description = description
        self.price = price
        self.type = type
        self.category = category
        self.outletPrices = outletPrices
        self.modifierGroups = modifierGroups
        self.sections = sections
        self.variants = variants
    }

    /// The product's canonical JSON document: every key, in one order, prices in their shortest
    /// exact form. Two payloads that mean the same product give the same bytes, which is what
    /// makes a re-sync of an unchanged product `unchanged`.
    public var document: JSONValue {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        return .object([
            ("itemCode", .string(itemCode)),
            ("name", .string(name)),
            ("description", text(description)),
            ("price", price.json),
            ("type", .string(type.rawValue)),
            ("category", text(category)),
            ("outletPrices", .array(outletPrices.map { .object([("outletId", .string($0.outletId)), ("price", $0.price.json)]) })),
            ("modifierGroups", .array(modifierGroups.map { group in
                .object([
                    ("code", .string(group.code)), ("name", .string(group.name)), ("min", .integer(group.min)), ("max", .integer(group.max)),
                    ("options", .array(group.options.map { .object([("itemCode", .string($0.itemCode)), ("name", .string($0.name)),
                                                                    ("price", $0.price.json)]) })),
                ])
            })),
            ("sections", .array(sections.map { section in
                .object([
                    ("name", .string(section.name)), ("min", .integer(section.min)), ("max", .integer(section.max)),
                    ("items", .array(section.items.map { .object([("itemCode", .string($0.itemCode)), ("price", $0.price?.json ?? .null)]) })),
                ])
            })),
            ("variants", .array(variants.map { .object([("itemCode", .string($0.itemCode)), ("name", .string($0.name)),
                                                        ("price", $0.price.json)]) })),
        ])
    }

    /// SHA-256 (hex) of the canonical document: equal exactly when the documents are.
    public var contentHash: String {
        Hex.encode(SHA256.hash(data: document.bytes))
    }
}

/// A product row: the canonical document and what the store keeps beside it.
public struct StoredProduct: Sendable, Equatable {
    public var tenantId: String
    public var provider: String
    public var itemCode: String
    /// ``Product/document`` as synced.
    public var document: JSONValue
    public var contentHash: String
    public var createdAt: Int64
    public var updatedAt: Int64
    /// Set while the product is absent from the provider's latest sync.
    public var deletedAt: Int64?

    public init(tenantId: String, provider: String, itemCode: String, document: JSONValue, contentHash: String, createdAt: Int64,
                updatedAt: Int64, deletedAt: Int64?) {
        self.tenantId = tenantId
        self.provider = provider
        self.itemCode = itemCode
        self.document = document
        self.contentHash = contentHash
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.deletedAt = deletedAt
    }
}
