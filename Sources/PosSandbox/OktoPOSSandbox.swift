import Foundation
import HTTPTypes
import Hummingbird
import PosDomain
import Synchronization

/// A double of the OktoPOS Manager Order API (1.3.0) that enforces its documented contract and records
/// what it accepted.
///
/// Routes under `prefix` (a connector's `baseUrl` is `http://host:port{prefix}`):
/// `POST /order/create`, `GET /order/ready`, `POST /order/status`, plus the `/_sandbox/` control endpoints.
/// The token travels in a header whose name is configurable (`X-API-Key` by default). Errors use the
/// envelope observed from a live instance: `{"items":[],"messages":[{…,"text":"…","type":"error"}],"success":false,…}`.
public final class OktoPOSSandbox: Sendable {
    public struct Article: Sendable, Hashable {
        /// The article's integer id (`externalId` on an order item).
        public var id: Int
        /// The article's UUID (`productId` on an order item).
        public var uuid: String
        /// Its `description`, which OktoPOS keeps unique.
        public var name: String
        /// The source system's key for it (unique, what imports match on): our PLU.
        public var externalReferenceNumber: String?
        public var prices: [Price]
        /// The article group's token.
        public var group: String?

        public init(id: Int, uuid: String, name: String, externalReferenceNumber: String? = nil, prices: [Price] = [], group: String? = nil) {
            self.id = id
            self.uuid = uuid
            self.name = name
            self.externalReferenceNumber = externalReferenceNumber
            self.prices = prices
            self.group = group
        }
    }

    /// An article's price in one distribution channel.
    public struct Price: Sendable, Hashable {
        public var dcId: Int
        /// JSON number text (`12.50`), as the Article API writes prices.
        public var price: String
        public var taxRateId: Int

        public init(dcId: Int, price: String, taxRateId: Int = 23) {
            self.dcId = dcId
            self.price = price
            self.taxRateId = taxRateId
        }
    }

    public struct DistributionChannel: Sendable, Hashable {
        public var dcId: Int
        public var name: String

        public init(dcId: Int, name: String) {
            self.dcId = dcId
            self.name = name
        }
    }

    /// An order the double accepted.
    public struct Order: Sendable {
        public let internalId: Int
        public let orderId: String
        /// The current status: the body's `status`, then whatever `order/status` set.
        public internal(set) var status: String
        /// The request body as parsed (numbers keep their source text).
        public let body: JSONValue
        public let receivedAt: String
    }

    /// A status change accepted by `order/status`.
    public struct StatusUpdate: Sendable {
        public let internalId: Int
        public let status: String
        public let payload: JSONValue?
        public let receivedAt: String
    }

    // Sandbox credentials, not secrets.
    public static let defaultToken = "okto-sandbox-token"
    public static let defaultTokenHeader = "X-API-Key"
    /// The fixture orders' articles, their PLUs as `externalReferenceNumber`, priced in-house (34) and for delivery (35).
    public static let defaultArticles: [Article] = [
        Article(id: 101, uuid: "7f1c2a10-0000-4000-8000-000000000101", name: "Classic Burger", externalReferenceNumber: "SKU-BURGER-01",
                prices: [Price(dcId: 34, price: "11.90"), Price(dcId: 35, price: "12.50")], group: "Burgers"),
        Article(id: 102, uuid: "7f1c2a10-0000-4000-8000-000000000102", name: "Fries", externalReferenceNumber: "SKU-FRIES-01",
                prices: [Price(dcId: 34, price: "4.50"), Price(dcId: 35, price: "4.90")], group: "Sides"),
        Article(id: 103, uuid: "7f1c2a10-0000-4000-8000-000000000103", name: "Cola", externalReferenceNumber: "SKU-COLA-01",
                prices: [Price(dcId: 34, price: "2.50", taxRateId: 24), Price(dcId: 35, price: "2.80", taxRateId: 24)], group: "Drinks"),
        Article(id: 201, uuid: "7f1c2a10-0000-4000-8000-000000000201", name: "Extra Cheese", externalReferenceNumber: "mo-extra-cheese",
                prices: [Price(dcId: 34, price: "1.50"), Price(dcId: 35, price: "1.50")], group: "Extras"),
        Article(id: 202, uuid: "7f1c2a10-0000-4000-8000-000000000202", name: "Bacon", externalReferenceNumber: "mo-bacon",
                prices: [Price(dcId: 34, price: "2.00"), Price(dcId: 35, price: "2.00")], group: "Extras"),
        Article(id: 900, uuid: "7f1c2a10-0000-4000-8000-000000000900", name: "Delivery fee", externalReferenceNumber: "DELIVERY-FEE",
                prices: [Price(dcId: 35, price: "3.50")], group: "Fees"),
    ]
    /// The Article API's largest page.
    public static let maxArticlePageSize = 500
    public static let defaultDistributionChannels: [DistributionChannel] = [
        DistributionChannel(dcId: 34, name: "INHOUSE"),
        DistributionChannel(dcId: 35, name: "DELIVERY"),
    ]
    public static let defaultTaxRateIds: [Int] = [23, 24]
    /// The first `internalId` handed out; each accepted order gets the next.
    public static let firstInternalId = 12345
    /// `version` in error envelopes (the live instance's).
    public static let apiVersion = "3.93.4"
    public static let orderTypes: Set<String> = ["LOCAL", "PICKUP", "DELIVERY", "SHIPPING"]

    static let create = SandboxRoute(.post, "/order/create")
    static let ready = SandboxRoute(.get, "/order/ready")
    static let setStatus = SandboxRoute(.post, "/order/status")
    /// Not published by OktoPOS ⚠: the Order API's `/{controller}/{action}` pattern, POST because the listing takes a body.
    static let articleList = SandboxRoute(.post, "/article/list")

    public let token: String
    public let tokenHeader: String
    public let distributionChannels: [DistributionChannel]
    public let taxRateIds: [Int]
    /// The most articles a page holds, whatever `pageSize` asked (at most 500); a test makes it small to exercise paging.
    public let articlePageLimit: Int

    private let headerName: HTTPField.Name
    private let ledger = RouteLedger(routes: [create, ready, setStatus, articleList])
    private let state = Mutex(State())
    private let currentArticles: Mutex<[Article]>

    struct State {
        var nextInternalId = OktoPOSSandbox.firstInternalId
        var orders: [Order] = []
        var statusUpdates: [StatusUpdate] = []
    }

    /// `tokenHeader` must be a valid HTTP field name (see ``isValidHeaderName(_:)``).
    public init(
        token: String = OktoPOSSandbox.defaultToken, tokenHeader: String = OktoPOSSandbox.defaultTokenHeader,
        articles: [Article] = OktoPOSSandbox.defaultArticles,
        distributionChannels: [DistributionChannel] = OktoPOSSandbox.defaultDistributionChannels,
        taxRateIds: [Int] = OktoPOSSandbox.defaultTaxRateIds, articlePageLimit: Int = OktoPOSSandbox.maxArticlePageSize
    ) {
        guard let name = HTTPField.Name(tokenHeader) else { preconditionFailure("invalid header name \(tokenHeader)") }
        precondition(articlePageLimit >= 1, "articlePageLimit must be at least 1")
        self.token = token
        self.tokenHeader = tokenHeader
        self.headerName = name
        self.currentArticles = Mutex(articles)
        self.distributionChannels = distributionChannels
        self.taxRateIds = taxRateIds
        self.articlePageLimit = min(articlePageLimit, Self.maxArticlePageSize)
    }

    /// The articles orders are checked against and `article/list` lists.
    public var articles: [Article] { currentArticles.withLock { $0 } }

    /// Replaces the articles; ``reset()`` keeps them.
    public func replaceArticles(_ articles: [Article]) {
        currentArticles.withLock { $0 = articles }
    }

    public static func isValidHeaderName(_ name: String) -> Bool { HTTPField.Name(name) != nil }

    // MARK: In-process access

    /// Accepted orders, oldest first.
    public var orders: [Order] { state.withLock { $0.orders } }

    public var statusUpdates: [StatusUpdate] { state.withLock { $0.statusUpdates } }

    public func order(orderId: String) -> Order? { state.withLock { $0.orders.first { $0.orderId == orderId } } }

    /// Requests that reached `route` (`"/order/create"`, or `"POST /order/create"` for one method), including
    /// rejected and failed ones.
    public func requestCount(_ route: String) -> Int { ledger.requestCount(route) }

    /// The next `times` requests to `route` answer `status` with the error envelope, before any check or change.
    public func failNext(_ route: String, status: Int, times: Int = 1) { ledger.failNext(route, status: status, times: times) }

    /// Forgets orders, counts and pending failures; ids start again at ``firstInternalId``.
    public func reset() {
        state.withLock { $0 = State() }
        ledger.reset()
    }

    // MARK: Routes

    public func addRoutes<Context: RequestContext>(to router: Router<Context>, prefix: String = "/oktopos") {
        ledger.mount(Self.create, on: router, prefix: prefix, errorResponse: { self.error($0, action: "create", $1) }) { request in
            self.handleCreate(request)
        }
        ledger.mount(Self.ready, on: router, prefix: prefix, errorResponse: { self.error($0, action: "ready", $1) }) { request in
            if let denied = self.authenticate(request, action: "ready") { return denied }
            let ready = self.state.withLock { $0.orders.filter { $0.status == "ready" } }
            return SandboxHTTP.json(200, .array(ready.map { Self.body($0.body, status: $0.status) }))
        }
        ledger.mount(Self.setStatus, on: router, prefix: prefix, errorResponse: { self.error($0, action: "status", $1) }) { request in
            self.handleStatus(request)
        }
        ledger.mount(Self.articleList, on: router, prefix: prefix, errorResponse: { self.error($0, action: "list", $1, controller: "article") }) { request in
            self.handleArticleList(request)
        }
        ledger.mountControl(on: router, prefix: prefix, snapshot: { self.snapshot }, catalogue: { self.catalogue }, reset: { self.reset() })
    }

    /// The error envelope of a live OktoPOS Manager instance.
    static func envelope(action: String, texts: [String], items: [JSONValue] = [], controller: String = "order") -> JSONValue {
        let now = SandboxHTTP.unixNow
        return .object([
            ("items", .array(items)),
            ("messages", .array(texts.map { text in
                .object([
                    ("data", .object([
                        ("action", .string(action)), ("controller", .string(controller)), ("module", .string("api")),
                        ("request_time", .number(String(now))),
                    ])),
                    ("index", .number("-1")),
                    ("text", .string(text)),
                    ("text_ns", .string("default.error.controller")),
                    ("type", .string("error")),
                ])
            })),
            ("success", .bool(false)),
            ("timestamp", .number(String(now))),
            ("version", .string(apiVersion)),
        ])
    }

    func error(_ status: Int, action: String, _ texts: String..., items: [JSONValue] = [], controller: String = "order") -> Response {
        SandboxHTTP.json(status, Self.envelope(action: action, texts: texts, items: items, controller: controller))
    }

    private func authenticate(_ request: SandboxRequest, action: String, controller: String = "order") -> Response? {
        guard let presented = request.header(headerName) else {
            return error(401, action: action, "missing API token: send it in the \(tokenHeader) header", controller: controller)
        }
        guard SandboxFormats.credentialMatches(presented, token) else {
            return error(401, action: action, "invalid API token in the \(tokenHeader) header", controller: controller)
        }
        return nil
    }

    // MARK: Article list

    /// `{"page": ≥ 1 (default 1), "pageSize": 1…500 (default 50), "filter"?: {"externalReferenceNumber"?: exact,
    /// "description"?: contained, case-insensitive}}` → the envelope with the page's articles under `items`,
    /// plus `page`, `pageSize` (what the page holds at most) and `total` ⚠ (the list answer is not published).
    private func handleArticleList(_ request: SandboxRequest) -> Response {
        func refuse(_ texts: [String]) -> Response {
            SandboxHTTP.json(400, Self.envelope(action: "list", texts: texts, controller: "article"))
        }
        if let denied = authenticate(request, action: "list", controller: "article") { return denied }
        let node: JSONNode
        do { node = try SandboxBody.object(request.body) } catch { return refuse([error.message]) }
        var checker = JSONChecker(style: .brackets, wording: .plain)
        let root = FieldPath.root
        if case .object(let members) = node.kind, let unknown = members.first(where: { !["page", "pageSize", "filter"].contains($0.key) }) {
            checker.fail(root.key(unknown.key), "is not a parameter of the article list (page, pageSize, filter)")
        }
        let page = checker.integer(node["page"], root.key("page"), required: false, minimum: 1) ?? 1
        var pageSize = checker.integer(node["pageSize"], root.key("pageSize"), required: false, minimum: 1) ?? 50
        if pageSize > Self.maxArticlePageSize {
            checker.fail(root.key("pageSize"), .maximum(String(Self.maxArticlePageSize)))
        }
        var reference: String?
        var description: String?
        if let filter = checker.object(node["filter"], root.key("filter"), required: false), case .object(let members) = filter.kind {
            for member in members {
                switch member.key {
                case "externalReferenceNumber": reference = checker.string(member.value, root.key("filter").key(member.key), required: true)
                case "description": description = checker.string(member.value, root.key("filter").key(member.key), required: true)
                default: checker.fail(root.key("filter").key(member.key), "is not a filter of the article list (externalReferenceNumber, description)")
                }
            }
        }
        guard checker.isValid else { return refuse(checker.violations.map { "\($0.path) \($0.message)" }) }
        pageSize = min(pageSize, articlePageLimit)
        let matching = articles.filter { article in
            (reference.map { article.externalReferenceNumber == $0 } ?? true)
                && (description.map { article.name.localizedCaseInsensitiveContains($0) } ?? true)
        }
        let (start, overflow) = (page - 1).multipliedReportingOverflow(by: pageSize)
        let slice = !overflow && start < matching.count ? Array(matching[start..<min(matching.count, start + pageSize)]) : []
        return SandboxHTTP.json(200, .object([
            ("items", .array(slice.map(json))),
            ("messages", .array([])),
            ("success", .bool(true)),
            ("page", .int(page)), ("pageSize", .int(pageSize)), ("total", .int(matching.count)),
            ("timestamp", .number(String(SandboxHTTP.unixNow))),
            ("version", .string(Self.apiVersion)),
        ]))
    }

    /// An article as the Article API describes one (its add body's fields).
    func json(_ article: Article) -> JSONValue {
        .object([
            ("id", .int(article.id)),
            ("uuid", .string(article.uuid)),
            ("externalReferenceNumber", .optionalString(article.externalReferenceNumber)),
            ("description", .string(article.name)),
            ("price", .array(article.prices.map { price in
                .object([
                    ("distributionChannel", .object([
                        ("id", .int(price.dcId)),
                        ("token", .optionalString(distributionChannels.first { $0.dcId == price.dcId }?.name)),
                    ])),
                    ("price", .number(price.price)),
                    ("taxRateId", .int(price.taxRateId)),
                ])
            })),
            ("cashierCanChangePrice", .bool(false)),
            ("unit", .object([("id", .int(1)), ("token", .string("pcs"))])),
            ("group", article.group.map { .object([("token", .string($0))]) } ?? .null),
        ])
    }

    private func handleCreate(_ request: SandboxRequest) -> Response {
        if let denied = authenticate(request, action: "create") { return denied }
        let node: JSONNode
        do { node = try SandboxBody.object(request.body) } catch { return self.error(400, action: "create", error.message) }
        var checker = JSONChecker(style: .brackets, wording: .plain)
        let orderId = validateCreate(node, &checker)
        guard checker.isValid, let orderId else {
            return error(400, action: "create", checker.violations.map { "\($0.path) \($0.message)" })
        }
        let body = JSONValue(node)
        enum Outcome { case created(Int), duplicate(of: Int) }
        let outcome: Outcome = state.withLock { state in
            if let existing = state.orders.first(where: { $0.orderId == orderId }) { return .duplicate(of: existing.internalId) }
            let internalId = state.nextInternalId
            state.nextInternalId += 1
            let status = node["status"].flatMap { if case .string(let text) = $0.kind { text } else { nil } } ?? ""
            state.orders.append(Order(internalId: internalId, orderId: orderId, status: status, body: body,
                                      receivedAt: SandboxHTTP.timestamp))
            return .created(internalId)
        }
        switch outcome {
        case .created(let internalId):
            return SandboxHTTP.json(200, .object([("internalId", .int(internalId))]))
        case .duplicate(let existing):
            return error(409, action: "create", "order with orderId \(JSONText.quoted(orderId)) already exists",
                         items: [.object([("internalId", .int(existing))])])
        }
    }

    private func error(_ status: Int, action: String, _ texts: [String], items: [JSONValue] = []) -> Response {
        SandboxHTTP.json(status, Self.envelope(action: action, texts: texts, items: items))
    }

    private func handleStatus(_ request: SandboxRequest) -> Response {
        if let denied = authenticate(request, action: "status") { return denied }
        let node: JSONNode
        do { node = try SandboxBody.object(request.body) } catch { return self.error(400, action: "status", error.message) }
        var checker = JSONChecker(style: .brackets, wording: .plain)
        let internalId = checker.integer(node["orderId"], FieldPath.root.key("orderId"), required: true)
        let status = checker.string(node["status"], FieldPath.root.key("status"), required: true, nonEmpty: true)
        let payload = checker.object(node["payload"], FieldPath.root.key("payload"), required: false)
        guard checker.isValid, let internalId, let status else {
            return error(400, action: "status", checker.violations.map { "\($0.path) \($0.message)" })
        }
        let found = state.withLock { state -> Bool in
            guard let index = state.orders.firstIndex(where: { $0.internalId == internalId }) else { return false }
            state.orders[index].status = status
            state.statusUpdates.append(StatusUpdate(internalId: internalId, status: status, payload: payload.map(JSONValue.init),
                                                    receivedAt: SandboxHTTP.timestamp))
            return true
        }
        guard found else { return error(404, action: "status", "order with internalId \(internalId) not found") }
        return SandboxHTTP.json(200, .object([("success", .bool(true))]))
    }

    // MARK: Validation

    /// Checks a create body; returns its `orderId` (violations are in `checker`).
    func validateCreate(_ node: JSONNode, _ checker: inout JSONChecker) -> String? {
        let root = FieldPath.root
        let orderId = checker.string(node["orderId"], root.key("orderId"), required: true, nonEmpty: true)

        var currency: String?
        let paymentPath = root.key("payment")
        if let payment = checker.object(node["payment"], paymentPath, required: true) {
            currency = money(payment["price"], paymentPath.key("price"), required: true, currency: nil, &checker)
            _ = checker.string(payment["paymentMethod"], paymentPath.key("paymentMethod"), required: false)
            _ = checker.string(payment["status"], paymentPath.key("status"), required: false)
            _ = checker.string(payment["referenceId"], paymentPath.key("referenceId"), required: false)
            if let received = checker.string(payment["paymentReceived"], paymentPath.key("paymentReceived"), required: false),
               RFC3339.parseMilliseconds(received) == nil {
                checker.fail(paymentPath.key("paymentReceived"), "must be an RFC 3339 date-time such as \"2017-07-21T17:32:28Z\"")
            }
        }

        let itemsPath = root.key("items")
        if let items = checker.array(node["items"], itemsPath, required: true, nonEmpty: true) {
            var seenBasketIds = Set<Int>()
            var mainLines = Set<Int>()
            for (index, item) in items.enumerated() {
                let path = itemsPath.index(index)
                guard let item = checker.object(item, path, required: true) else { continue }
                validateItem(item, path, currency: currency, seen: &seenBasketIds, mainLines: &mainLines, &checker)
            }
        }

        _ = checker.string(node["status"], root.key("status"), required: true, nonEmpty: true)
        _ = zonedTime(node["purchaseTime"], root.key("purchaseTime"), required: true, &checker)

        if let orderType = checker.string(node["orderType"], root.key("orderType"), required: false),
           !Self.orderTypes.contains(orderType) {
            checker.fail(root.key("orderType"), "must be one of LOCAL, PICKUP, DELIVERY, SHIPPING, not \(JSONText.quoted(orderType))")
        }

        let pickupPath = root.key("pickup")
        if let pickup = checker.object(node["pickup"], pickupPath, required: false) {
            if let timestamp = checker.string(pickup["timestamp"], pickupPath.key("timestamp"), required: false) {
                if !SandboxFormats.isLocalDateTime(timestamp) {
                    checker.fail(pickupPath.key("timestamp"),
                                 "must be a local date-time without offset such as \"2021-01-11T14:15:00\", not \(JSONText.quoted(timestamp))")
                }
                if pickup["timezone"] == nil { checker.fail(pickupPath.key("timezone"), "is required when pickup.timestamp is given") }
            }
            timeZone(pickup["timezone"], pickupPath.key("timezone"), required: false, &checker)
            _ = checker.bool(pickup["asapDelivery"], pickupPath.key("asapDelivery"), required: false)
            _ = checker.string(pickup["pickupToken"], pickupPath.key("pickupToken"), required: false)
        }

        let tipsPath = root.key("tipTransactions")
        if let tips = checker.array(node["tipTransactions"], tipsPath, required: false, nonEmpty: false) {
            for (index, tip) in tips.enumerated() {
                let path = tipsPath.index(index)
                guard let tip = checker.object(tip, path, required: true) else { continue }
                _ = checker.moneyNumber(tip["amount"], path.key("amount"), required: true)
                _ = checker.string(tip["type"], path.key("type"), required: true, nonEmpty: true)
                _ = checker.string(tip["paidWith"], path.key("paidWith"), required: false)
                if let userId = tip["userId"] {
                    switch userId.kind {
                    case .string, .number: break
                    default: checker.fail(path.key("userId"), "must be a string or a number, not \(userId.typeName)")
                    }
                }
                _ = zonedTime(tip["created"], path.key("created"), required: false, &checker)
                _ = checker.string(tip["notice"], path.key("notice"), required: false)
            }
        }

        _ = checker.string(node["sessionToken"], root.key("sessionToken"), required: false)
        if let intermediary = checker.string(node["intermediary"], root.key("intermediary"), required: false),
           !SandboxFormats.isIntermediary(intermediary) {
            checker.fail(root.key("intermediary"), #"must match ^[\w\d\. \-]+$, not "# + JSONText.quoted(intermediary))
        }
        return orderId
    }

    private func validateItem(_ item: JSONNode, _ path: FieldPath, currency: String?, seen: inout Set<Int>, mainLines: inout Set<Int>,
                              _ checker: inout JSONChecker) {
        let basketItemId = checker.integer(item["basketItemId"], path.key("basketItemId"), required: true)
        if let basketItemId, !seen.insert(basketItemId).inserted {
            checker.fail(path.key("basketItemId"), "\(basketItemId) is used by an earlier item of this order")
        }
        if let mainId = checker.integer(item["mainBasketItemId"], path.key("mainBasketItemId"), required: true), let basketItemId {
            if mainId == basketItemId {
                mainLines.insert(basketItemId)
            } else if !mainLines.contains(mainId) {
                checker.fail(path.key("mainBasketItemId"),
                             "\(mainId) must be this item's own basketItemId (\(basketItemId)) or the basketItemId of an earlier main item")
            }
        }

        let externalId = checker.integer(item["externalId"], path.key("externalId"), required: false)
        let productId = checker.string(item["productId"], path.key("productId"), required: false)
        if item["externalId"] == nil, item["productId"] == nil {
            checker.fail(path, "must identify its article with externalId (integer) or productId (UUID string)")
        }
        var byExternal: Article?
        if let externalId {
            byExternal = articles.first { $0.id == externalId }
            if byExternal == nil { checker.fail(path.key("externalId"), "refers to an unknown article (\(externalId))") }
        }
        if let productId {
            let byProduct = articles.first { $0.uuid.lowercased() == productId.lowercased() }
            if byProduct == nil {
                checker.fail(path.key("productId"), "refers to an unknown article (\(JSONText.quoted(productId)))")
            } else if let byExternal, byExternal != byProduct {
                checker.fail(path.key("productId"), "names a different article than externalId \(byExternal.id)")
            }
        }

        _ = checker.string(item["name"], path.key("name"), required: false)
        _ = checker.integer(item["quantity"], path.key("quantity"), required: true, minimum: 1)
        _ = money(item["price"], path.key("price"), required: true, currency: currency, &checker)
        _ = money(item["pricePerUnit"], path.key("pricePerUnit"), required: false, currency: currency, &checker)

        let channelPath = path.key("distributionChannel")
        if let channel = checker.object(item["distributionChannel"], channelPath, required: false) {
            let dcId = checker.integer(channel["dcId"], channelPath.key("dcId"), required: true)
            let name = checker.string(channel["name"], channelPath.key("name"), required: false)
            if let dcId {
                if let known = distributionChannels.first(where: { $0.dcId == dcId }) {
                    if let name, name != known.name {
                        checker.fail(channelPath.key("name"), "must be \(JSONText.quoted(known.name)) for dcId \(dcId), not \(JSONText.quoted(name))")
                    }
                } else {
                    checker.fail(channelPath.key("dcId"), "refers to an unknown distribution channel (\(dcId))")
                }
            }
        }

        let taxPath = path.key("tax")
        if let tax = checker.object(item["tax"], taxPath, required: false) {
            if let taxRateId = checker.integer(tax["taxRateId"], taxPath.key("taxRateId"), required: true), !taxRateIds.contains(taxRateId) {
                checker.fail(taxPath.key("taxRateId"), "refers to an unknown tax rate (\(taxRateId))")
            }
            _ = money(tax["taxValue"], taxPath.key("taxValue"), required: false, currency: currency, &checker)
        }
        _ = checker.string(item["comment"], path.key("comment"), required: false)
    }

    /// `{"value":"19.95","currency":"EUR"}`: the value is a decimal STRING; a JSON number is the wrong money
    /// representation. Returns the currency.
    private func money(_ node: JSONNode?, _ path: FieldPath, required: Bool, currency expected: String?,
                       _ checker: inout JSONChecker) -> String? {
        guard let money = checker.object(node, path, required: required) else { return nil }
        let valuePath = path.key("value")
        if let value = money["value"] {
            switch value.kind {
            case .string(let text) where Self.isDecimalString(text):
                break
            case .number(let text):
                checker.fail(valuePath, "must be a decimal string such as \"19.95\", not the JSON number \(text) (wrong money representation)")
            default:
                checker.fail(valuePath, "must be a decimal string such as \"19.95\"")
            }
        } else {
            checker.fail(valuePath, .required)
        }
        let currencyPath = path.key("currency")
        guard let code = checker.string(money["currency"], currencyPath, required: true) else { return nil }
        guard code.utf8.count == 3, code.utf8.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            checker.fail(currencyPath, "must be a three-letter uppercase ISO 4217 code such as \"EUR\", not \(JSONText.quoted(code))")
            return nil
        }
        if let expected, code != expected {
            checker.fail(currencyPath, "must equal payment.price.currency (\(expected)), not \(code)")
        }
        return code
    }

    /// `^\d+(\.\d{1,4})?$`
    static func isDecimalString(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        switch parts.count {
        case 1: return true
        case 2: return (1...4).contains(parts[1].count) && parts[1].allSatisfy { $0.isASCII && $0.isNumber }
        default: return false
        }
    }

    /// `{"timestamp": RFC 3339, "timezone": IANA name}`.
    private func zonedTime(_ node: JSONNode?, _ path: FieldPath, required: Bool, _ checker: inout JSONChecker) -> JSONNode? {
        guard let object = checker.object(node, path, required: required) else { return nil }
        if let timestamp = checker.string(object["timestamp"], path.key("timestamp"), required: true),
           RFC3339.parseMilliseconds(timestamp) == nil {
            checker.fail(path.key("timestamp"), "must be an RFC 3339 date-time such as \"2021-01-18T10:22:12Z\", not \(JSONText.quoted(timestamp))")
        }
        timeZone(object["timezone"], path.key("timezone"), required: true, &checker)
        return object
    }

    private func timeZone(_ node: JSONNode?, _ path: FieldPath, required: Bool, _ checker: inout JSONChecker) {
        if let name = checker.string(node, path, required: required), !SandboxFormats.isTimeZoneName(name) {
            checker.fail(path, "must be an IANA time-zone name such as \"Europe/Berlin\", not \(JSONText.quoted(name))")
        }
    }

    // MARK: Reports

    /// The stored body with `status` replaced by the current status.
    static func body(_ body: JSONValue, status: String) -> JSONValue {
        guard case .object(let members) = body else { return body }
        return .object(members.map { $0.0 == "status" ? ($0.0, .string(status)) : $0 })
    }

    var snapshot: JSONValue {
        let (orders, updates) = state.withLock { ($0.orders, $0.statusUpdates) }
        return .object([
            ("orders", .array(orders.map { order in
                .object([
                    ("internalId", .int(order.internalId)), ("orderId", .string(order.orderId)), ("status", .string(order.status)),
                    ("receivedAt", .string(order.receivedAt)), ("body", order.body),
                ])
            })),
            ("statusUpdates", .array(updates.map { update in
                .object([
                    ("internalId", .int(update.internalId)), ("status", .string(update.status)),
                    ("payload", update.payload ?? .null), ("receivedAt", .string(update.receivedAt)),
                ])
            })),
            ("requestCounts", ledger.countsJSON),
        ])
    }

    var catalogue: JSONValue {
        .object([
            ("tokenHeader", .string(tokenHeader)),
            ("articles", .array(articles.map(json))),
            ("distributionChannels", .array(distributionChannels.map { .object([("dcId", .int($0.dcId)), ("name", .string($0.name))]) })),
            ("taxRateIds", .array(taxRateIds.map(JSONValue.int))),
        ])
    }
}
