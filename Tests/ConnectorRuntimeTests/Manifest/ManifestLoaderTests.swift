import ConnectorRuntime
import Foundation
import TestSupport
import Testing

/// Environment the shipped manifest needs, with values distinctive enough to search for in output.
let shippedEnvironment: [String: String] = [
    "META_PIXEL_ID": "998877665544",
    "META_ACCESS_TOKEN": "EAAB-secret-access-token-4242",
    "CAPI_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "CAPI_INGEST_TOKEN": "ingest-secret-token-7373",
]

/// A minimal valid manifest; tests append or alter sections.
let minimalManifest = """
    manifest_version: 1.0
    id: conn::third_party::ads::meta::conversions_api::rest
    name: Meta Conversions API
    taxonomy:
      origin: third_party
      source: ads
      provider: meta
      product: conversions_api
      method: rest_or_webhook
    runtime:
      supported_runners: [lambda, fargate]
      network_patterns: [nat_allowlist]
    streams:
      strategy: discovery_by_config
      defaults:
        key_strategy: source_declared_or_config
        cursor_strategy: date_range_or_event_id
    graph_api:
      base_url: https://graph.facebook.com
      version: v26.0
    pixels:
      - id: "123"
        access_token: ${env:TOKEN:-t}

    """

func problems(_ yaml: String, environment: [String: String] = [:]) -> [ManifestProblem] {
    do {
        _ = try ManifestLoader(environment: environment).load(yaml: yaml, path: "m.yaml")
        return []
    } catch {
        return error.problems
    }
}

@Suite("Manifest loader")
struct ManifestLoaderTests {
    @Test("the shipped manifest loads with its documented variables")
    func shippedManifestLoads() throws {
        let manifest = try ManifestLoader(environment: shippedEnvironment).load(path: RepositoryPaths.shippedManifest)
        #expect(manifest.id == "conn::third_party::ads::meta::conversions_api::rest")
        #expect(manifest.manifestVersion == "1.0")
        #expect(
            manifest.taxonomy
                == Taxonomy(origin: "third_party", source: "ads", provider: "meta", product: "conversions_api", method: "rest_or_webhook")
        )
        #expect(manifest.runtime.supportedRunners == ["lambda", "fargate"])
        #expect(manifest.runtime.networkPatterns == ["nat_allowlist"])
        #expect(
            manifest.streams
                == StreamDefaults(strategy: "discovery_by_config", keyStrategy: "source_declared_or_config", cursorStrategy: "date_range_or_event_id")
        )
        #expect(manifest.graphAPI.version == "v26.0")
        #expect(manifest.graphAPI.timeout == .milliseconds(1500))
        #expect(manifest.graphAPI.appSecret == nil)
        #expect(manifest.pixels.map(\.id) == ["998877665544"])
        #expect(manifest.pixels[0].accessToken.revealed == "EAAB-secret-access-token-4242")
        #expect(manifest.pixels[0].testEventCode == nil)
        let push = try #require(manifest.push)
        #expect(push.sources.map(\.scheme) == [.standardWebhooks])
        #expect(push.sources[0].signingKeys.map(\.bytes) == [Array(Data(base64Encoded: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!)])
        #expect(push.ingestTokens.map(\.revealed) == ["ingest-secret-token-7373"])
        #expect(push.batching.maxEvents == 1000)
        let pull = try #require(manifest.pull)
        #expect(pull.deliveryStatuses.step == .seconds(86_400))
        #expect(pull.deliveryStatuses.settleLag == .seconds(600))
        #expect(manifest.state.url.revealed == "sqlite:.capi/state.sqlite")
        #expect(manifest.schemaRegistry.notify == nil, "no alarm receiver unless CAPI_ALARM_WEBHOOK_URL is set")
        #expect(manifest.schemaRegistry.thresholds.qualityDropPoints == 1)

        var withReceiver = shippedEnvironment
        withReceiver["CAPI_ALARM_WEBHOOK_URL"] = "https://hooks.example/capi?token=hook-secret-5151"
        withReceiver["CAPI_ALARM_WEBHOOK_SECRET"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        let notify = try #require(try ManifestLoader(environment: withReceiver).load(path: RepositoryPaths.shippedManifest).schemaRegistry.notify)
        #expect(notify.cooldown == .seconds(900) && notify.retries == 3)
        #expect(!"\(notify)".contains("hook-secret-5151"), "the receiver's URL may hold a token: never printed")
    }

    @Test("the shipped manifest rotates by environment: a NEXT secret and token count only when set")
    func rotationSlots() throws {
        var rotating = shippedEnvironment
        rotating["CAPI_WEBHOOK_SECRET_NEXT"] = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
        rotating["CAPI_INGEST_TOKEN_NEXT"] = "next-ingest-token"
        let push = try #require(try ManifestLoader(environment: rotating).load(path: RepositoryPaths.shippedManifest).push)
        #expect(push.sources[0].signingKeys.count == 2)
        #expect(push.ingestTokens.map(\.revealed) == ["ingest-secret-token-7373", "next-ingest-token"])
        var bare = shippedEnvironment
        bare["CAPI_INGEST_TOKEN"] = nil
        #expect(try ManifestLoader(environment: bare).load(path: RepositoryPaths.shippedManifest).push?.ingestTokens.isEmpty == true)

        func secrets(_ list: String) -> [String] {
            problems(
                minimalManifest
                    + "push:\n  mirror_salt: salt-0123456789abcdef\n  sources:\n    - {name: a, scheme: standard_webhooks, secrets: \(list)}\n"
            ).map(\.message)
        }
        #expect(secrets(#"["${env:UNSET_A:-}", "${env:UNSET_B:-}"]"#).contains { $0.contains("push.sources[0].secrets has no secret") })
        #expect(secrets(#"["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ""]"#).contains { $0.contains("push.sources[0].secrets[1] is empty") })
        #expect(secrets(#"["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "${env:UNSET_A:-}"]"#).isEmpty)
    }

    @Test("an alarm receiver needs an http(s) URL and a Standard Webhooks secret; each problem names its field")
    func alarmReceiverProblems() {
        func notify(_ body: String) -> [String] {
            problems(minimalManifest + "schema_registry:\n  alarms:\n    notify:\n" + body).map(\.message)
        }
        #expect(
            notify("      url: ftp://hooks.example/x\n      secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n").contains {
                $0.contains("schema_registry.alarms.notify.url must be an http:// or https:// URL")
            }
        )
        #expect(notify("      url: https://hooks.example/x\n").contains { $0.contains("schema_registry.alarms.notify.secret") })
        #expect(
            notify("      url: https://hooks.example/x\n      secret: not-base64!!\n").contains {
                $0.contains("notify.secret is not a Standard Webhooks secret")
            }
        )
        #expect(
            notify("      url: https://hooks.example/x\n      secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n      retries: 99\n").contains {
                $0.contains("schema_registry.alarms.notify.retries")
            }
        )
        #expect(notify("      url: \"\"\n").isEmpty, "an empty URL turns notifications off")
        // Off, its delivery settings are still checked: `validate` in CI, where the URL is unset.
        #expect(
            notify("      url: \"\"\n      cooldown: 15 min\n      retries: many\n      timeout: 1ms\n").map {
                $0.components(separatedBy: " must ")[0]
            } == [
                "schema_registry.alarms.notify.cooldown", "schema_registry.alarms.notify.retries", "schema_registry.alarms.notify.timeout",
            ]
        )
    }

    @Test("the shipped manifest without its webhook secret names the variable")
    func shippedManifestNeedsWebhookSecret() throws {
        var environment = shippedEnvironment
        environment["CAPI_WEBHOOK_SECRET"] = nil
        let text = try String(contentsOfFile: RepositoryPaths.shippedManifest, encoding: .utf8)
        let found = problems(text, environment: environment)
        #expect(found.count == 1)
        #expect(found.first?.message.contains("CAPI_WEBHOOK_SECRET is not set") == true)
        let secretLine = text.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains("${env:CAPI_WEBHOOK_SECRET}") }.map { $0 + 1 }
        #expect(found.first?.line == secretLine)
    }

    @Test("poll, flush and discover read no intake secret: a job without them loads, and still has every other problem reported")
    func jobsReadNoIntakeSecrets() throws {
        var environment = shippedEnvironment
        environment["CAPI_WEBHOOK_SECRET"] = nil
        environment["CAPI_INGEST_TOKEN"] = nil
        var jobs = ManifestLoader(environment: environment, scope: .withoutIntake)
        let manifest = try jobs.load(path: RepositoryPaths.shippedManifest)
        let push = try #require(manifest.push)
        #expect(push.sources.map(\.name) == ["default"])
        #expect(push.sources.allSatisfy { $0.signingKeys.isEmpty }, "nothing read, nothing kept")
        #expect(push.ingestTokens.isEmpty && push.mirrorSalt.revealed.isEmpty)
        #expect(manifest.pixels.first?.accessToken.revealed == shippedEnvironment["META_ACCESS_TOKEN"])

        // Unread: a missing token variable, a salt too short, a secret that is not base64.
        var text = try String(contentsOfFile: RepositoryPaths.shippedManifest, encoding: .utf8)
        text = text.replacingOccurrences(of: "${env:CAPI_INGEST_TOKEN:-}", with: "${env:CAPI_INGEST_TOKEN}")
        text = text.replacingOccurrences(of: "${env:CAPI_MIRROR_SALT:-change-me-mirror-salt-0001}", with: "short")
        text = text.replacingOccurrences(of: "${env:CAPI_WEBHOOK_SECRET}", with: "whsec_not*base64")
        #expect(throws: Never.self) { try jobs.load(yaml: text, path: "m.yaml") }
        #expect(problems(text, environment: environment).count == 3, "serve and validate read them all")

        // What the job does read is still checked.
        text = text.replacingOccurrences(of: "max_attempts: 20", with: "max_attempts: 0")
        jobs.environment["META_ACCESS_TOKEN"] = nil
        text = text.replacingOccurrences(of: "${env:META_ACCESS_TOKEN:-sandbox-token}", with: "${env:META_ACCESS_TOKEN}")
        do {
            _ = try jobs.load(yaml: text, path: "m.yaml")
            Issue.record("a job's own problems are reported")
        } catch {
            #expect(error.problems.map(\.message).contains { $0.contains("META_ACCESS_TOKEN is not set") })
            #expect(error.problems.map(\.message).contains { $0.contains("push.retry.max_attempts") })
            #expect(error.problems.count == 2, "\(error.problems)")
        }
    }

    @Test("every problem is reported with its line and column, not just the first")
    func reportsEveryProblemWithPosition() {
        let yaml = """
            manifest_version: 1.0
            id: conn::third_party::ads::meta::conversions_api::rest
            naem: Meta
            taxonomy:
              origin: third_party
              source: ads
              provider: meta
              product: conversions_api
            runtime:
              supported_runners: [lambda, fargat]
              network_patterns: [nat_allowlist]
            streams:
              strategy: discovery_by_config
              defaults: {key_strategy: a, cursor_strategy: b}
            graph_api:
              base_url: https://graph.facebook.com
              version: 26
            pixels:
              - id: "123"
                access_token: t
            push:
              sources:
                - name: app
                  scheme: stripe
                  secrets: [s]
              batching:
                max_events: -5
              mirror_salt: 0123456789abcdef
            """
        let found = problems(yaml)
        let located = found.map { "\($0.line):\($0.column)" }
        #expect(located == ["1:1", "3:1", "5:3", "10:31", "17:12", "27:17"], "\(found)")
        #expect(found[0].message == "missing required field `name`")
        #expect(found[1].message.contains("unknown key `naem`") && found[1].message.contains("did you mean `name`?"))
        #expect(found[2].message == "missing required field `taxonomy.method`")
        #expect(found[3].message.contains("did you mean `fargate`?"))
        #expect(found[4].message.contains("graph_api.version"))
        #expect(found[5].message.contains("push.batching.max_events must be between 1 and 1000"))
        #expect(found.allSatisfy { $0.description.hasPrefix("m.yaml:\($0.line):\($0.column): ") })
    }

    @Test("every bad entry of a list is reported at its own line and column")
    func everyBadListEntry() {
        let yaml =
            minimalManifest + """
                push:
                  sources:
                    - name: app
                      scheme: x_hub_signature_256
                      secrets: [s]
                      allowed_ips: [10.0.0.0/8, 10.0.0.0/33]
                  mirror_salt: test-mirror-salt-0123456789
                  ingest_allowed_ips:
                    - 10.1.0.0/16
                    - office
                    - 2001:db8::/129
                pull:
                  streams:
                    ad_insights:
                      accounts: [{id: act_1, pixels: ["123"]}]
                      attribution_windows: [1d_click, 7d_view, 7d_clik, 28d_click]
                """
        let found = problems(yaml)
        #expect(found.map { "\($0.line):\($0.column)" } == ["29:33", "33:7", "34:7", "39:39", "39:48"], "\(found)")
        #expect(found[0].message == "push.sources[0].allowed_ips entries must be IP addresses or CIDR ranges, found `10.0.0.0/33`")
        #expect(found[1].message.hasSuffix("found `office`"))
        #expect(found[2].message.hasSuffix("found `2001:db8::/129`"))
        #expect(found[3].message.contains("Meta stopped answering for `7d_view` on 2026-01-12"))
        #expect(found[4].message.contains("did you mean `7d_click`?"))
    }

    @Test("an ad account names pixels the manifest sends for, since reconcile joins its spend to their conversions")
    func adAccountPixels() {
        func found(_ accounts: String) -> [String] {
            problems(minimalManifest + "pull:\n  streams:\n    ad_insights:\n      accounts:\n" + accounts).map(\.description)
        }
        #expect(found("        - {id: act_1, pixels: [\"123\"]}\n").isEmpty)
        #expect(
            found("        - {id: act_1, pixels: [\"123\", \"999\"]}\n        - {id: act_2, pixels: [\"124\"]}\n") == [
                "m.yaml:28:39: pull.streams.ad_insights.accounts[0].pixels must name pixels of the manifest's `pixels` (123), found `999`",
                "m.yaml:29:32: pull.streams.ad_insights.accounts[1].pixels must name pixels of the manifest's `pixels` (123), found `124`",
            ]
        )
        #expect(
            found("        - {id: act_1, pixels: []}\n") == [
                "m.yaml:28:31: pull.streams.ad_insights.accounts[0].pixels must list the pixels this account advertises for: reconcile joins its spend to their conversions"
            ]
        )
        #expect(
            found("        - {id: act_1}\n").map { $0.contains("missing required field `pull.streams.ad_insights.accounts[0].pixels`") } == [true]
        )
        // An account without an id is the stream turned off; its pixels are not read (they may
        // come from the same unset environment), but its level is checked, for `validate` in CI.
        #expect(found("        - {id: \"\", pixels: [\"999\"]}\n").isEmpty)
        #expect(
            found("        - {id: \"\", pixels: [\"123\"], level: adgroup}\n") == [
                "m.yaml:28:44: pull.streams.ad_insights.accounts[0].level must be one of account, campaign, adset, ad, found `adgroup`"
            ]
        )
    }

    @Test(
        "pull.start_date takes a day (unquoted, as the shipped manifest shows it) or an ISO 8601 timestamp; anything else is reported at its place",
        arguments: [
            ("2026-11-16", Int64(1_794_787_200)), ("\"2026-11-16\"", 1_794_787_200), ("2026-11-16T08:30:00Z", 1_794_817_800),
            ("2026-11-16T08:30:00+02:00", 1_794_810_600),
        ]
    )
    func startDate(written: String, seconds: Int64) throws {
        let manifest = try ManifestLoader(environment: [:]).load(yaml: minimalManifest + "pull:\n  start_date: \(written)\n", path: "m.yaml")
        #expect(manifest.pull?.startDate.map { Int64($0.timeIntervalSince1970) } == seconds)
    }

    @Test(
        "a settle_lag that leaves nothing of Meta's 7-day horizon to read is reported; six days is taken",
        arguments: [("P7D", false), ("P8D", false), ("PT145H", false), ("P6D", true), ("PT10M", true)]
    )
    func settleLagWithinHorizon(written: String, taken: Bool) {
        let found = problems(minimalManifest + "pull:\n  streams:\n    delivery_statuses: {settle_lag: \(written)}\n")
        if taken {
            #expect(found.isEmpty, "\(found)")
        } else {
            #expect(
                found.map(\.message) == [
                    "pull.streams.delivery_statuses.settle_lag must be at most 6 days: windows end that long before now, and Meta's counts reach back 7 days"
                ],
                "\(found)"
            )
        }
    }

    @Test("a batch linger or intake yield over an hour is reported: it holds events back from Meta", arguments: ["linger", "yield_to_intake"])
    func batchingHoldsBackAtMostAnHour(key: String) {
        let push = "push:\n  sources: [{name: a, scheme: x_hub_signature_256, secrets: [s]}]\n  mirror_salt: 0123456789abcdef\n"
        let found = problems(minimalManifest + push + "  batching: {\(key): 200m}\n")
        #expect(found.map(\.message) == ["push.batching.\(key) must be at most 1h, found `200m`"], "\(found)")
        #expect(problems(minimalManifest + push + "  batching: {\(key): 1h}\n").isEmpty)
    }

    @Test("a start_date that is no date, and a stats step past Meta's 7-day horizon, are each reported at their place")
    func startDateAndStepRefused() {
        let found = problems(minimalManifest + "pull:\n  start_date: 16/11/2026\n  streams:\n    delivery_statuses: {step: P8D}\n")
        #expect(found.map { "\($0.line):\($0.column)" } == ["25:15", "27:24"], "\(found)")
        #expect(
            found.first?.message
                == "pull.start_date must be a date such as `2026-11-01` or an ISO 8601 time with its zone such as `2026-11-01T08:00:00Z`, found `16/11/2026`"
        )
        #expect(found.last?.message.contains("must not exceed 7 days") == true, "\(found)")
        // What follows a date is read too, never dropped; Unix seconds are no date here.
        for written in ["2026-11-16junk", "2026-11-16T25:00:00Z", "2026-11-16T08:30:00", "2026-02-30", "1794787200"] {
            let refused = problems(minimalManifest + "pull:\n  start_date: \"\(written)\"\n")
            #expect(refused.count == 1 && refused.first?.message.hasSuffix("found `\(written)`") == true, "\(written): \(refused)")
        }
    }

    @Test("every ad_insights option is read as written (none at its default), and each bad one is reported at its place")
    func adInsightsOptions() throws {
        let options = """
            pull:
              auth: {type: app_credentials, app_id: "4242", app_secret: app-secret-x}
              streams:
                ad_insights:
                  accounts: [{id: act_42, pixels: ["123"], level: ad}]
                  step: P3D
                  lookback: P14D
                  initial_lookback: P60D
                  async_threshold: P10D
                  attribution_windows: [28d_click]
                  action_report_time: conversion
                  action_types: {Purchase: omni_purchase}
                  page_size: 100
            """
        let pull = try #require(try ManifestLoader(environment: [:]).load(yaml: minimalManifest + options, path: "m.yaml").pull)
        let insights = try #require(pull.adInsights)
        #expect(insights.accounts.map(\.id) == ["42"] && insights.accounts.map(\.level) == ["ad"])
        let days: [Int] = [insights.stepDays, insights.lookbackDays, insights.initialDays, insights.asyncThresholdDays]
        #expect(days == [3, 14, 60, 10])
        #expect(insights.attributionWindows == ["28d_click"])
        #expect(insights.actionReportTime == "conversion")
        #expect(insights.actionTypes == ["Purchase": "omni_purchase"])
        #expect(insights.pageSize == 100)
        guard case .appCredentials(let appID, let secret) = pull.auth else {
            Issue.record("app_credentials read as \(pull.auth)")
            return
        }
        #expect(appID == "4242" && secret.revealed == "app-secret-x")

        let bad =
            options
            .replacingOccurrences(of: "auth: {type: app_credentials,", with: "auth: {type: system_user_token,")
            .replacingOccurrences(of: "id: act_42", with: "id: act_4x2")
            .replacingOccurrences(of: "level: ad}", with: "level: keyword}")
            .replacingOccurrences(of: "lookback: P14D", with: "lookback: PT36H")
            .replacingOccurrences(of: "initial_lookback: P60D", with: "initial_lookback: P2D")
            .replacingOccurrences(of: "action_report_time: conversion", with: "action_report_time: later")
        let found = problems(minimalManifest + bad).map(\.description)
        #expect(
            found == [
                "m.yaml:25:9: pull.auth: app_id and app_secret belong to type app_credentials",
                "m.yaml:28:23: pull.streams.ad_insights.accounts[0].id must be an ad account id (digits, with or without `act_`), found `act_4x2`",
                "m.yaml:28:56: pull.streams.ad_insights.accounts[0].level must be one of account, campaign, adset, ad, found `keyword`",
                "m.yaml:30:17: pull.streams.ad_insights.lookback must be whole days from 1 to 400, such as `P7D`",
                "m.yaml:31:25: pull.streams.ad_insights.initial_lookback must be at least the lookback (28 days): later polls re-read that far back",
                "m.yaml:34:27: pull.streams.ad_insights.action_report_time must be one of impression, conversion, mixed, found `later`",
            ],
            "\(found)"
        )
    }

    @Test("a pixel's default country is a real country with a calling code, which national phone numbers get")
    func defaultCountry() throws {
        func manifest(_ country: String) -> String {
            minimalManifest.replacingOccurrences(of: "access_token: ${env:TOKEN:-t}", with: "access_token: t\n    default_country: \(country)")
        }
        let loaded = try ManifestLoader(environment: [:]).load(yaml: manifest("JP"), path: "m.yaml")
        #expect(loaded.pixels.first?.defaultCountry == "jp")
        #expect(
            problems(manifest("xx")).map(\.message) == [
                "pixels[0].default_country must be an ISO 3166-1 alpha-2 country code such as `us`, found `xx`"
            ]
        )
        #expect(problems(manifest("uk")).map(\.message).first?.hasSuffix("found `uk`; did you mean `gb`?") == true)
        #expect(problems(manifest("Germany")).map(\.message).first?.hasSuffix("did you mean `de`?") == true)
    }

    @Test("wrong types name the field and the kind found")
    func wrongTypes() {
        let found = problems(
            minimalManifest + """
                push:
                  sources: {name: x}
                  listen: [1, 2]
                  mirror_salt: 0123456789abcdef
                  enrich_from_request: maybe
                """
        )
        let messages = found.map(\.message)
        #expect(messages.contains("push.sources must be a list, found a mapping"))
        #expect(messages.contains("push.listen must be a single value, found a list"))
        #expect(messages.contains("push.enrich_from_request must be true or false, found `maybe`"))
    }

    @Test("an unknown signature scheme and a malformed whsec_ secret are refused at load time")
    func webhookSecrets() {
        let yaml =
            minimalManifest + """
                push:
                  sources:
                    - name: a
                      scheme: standard_webhook
                      secrets: [whsec_abc]
                    - name: b
                      scheme: standard_webhooks
                      secrets:
                        - whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
                        - whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw!!
                  mirror_salt: 0123456789abcdef
                """
        let found = problems(yaml)
        let badLine = yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasSuffix("!!") }! + 1
        #expect(found.count == 2, "\(found)")
        #expect(found[0].message.contains("did you mean `standard_webhooks`?"))
        #expect(
            found[1].message == "push.sources[1].secrets[1] is not a valid standard_webhooks secret: expected `whsec_` followed by standard base64"
        )
        #expect(found[1].line == badLine && found[1].column == 11)
    }

    /// Yams refuses a repeated key before reading any value and says only where the first of them
    /// is: the other problems of the file went unreported until the repeat was removed.
    @Test("a repeated key is reported where it is repeated, in every mapping, beside the file's other problems")
    func repeatedKeysBesideOtherProblems() {
        let yaml =
            minimalManifest.replacingOccurrences(of: "  version: v26.0\n", with: "  version: v26.0\n  \"version\": v25.0\n  timeout: 3parsecs\n")
                + """
                push:
                  sources:
                    - name: app
                      scheme: stripe
                      secrets: [whsec_a]
                      tolerance: 300s
                      tolerance: 200s
                  batching:
                    max_events: -5
                  mirror_salt: 0123456789abcdef
                id: again
                """
        let found = problems(yaml)
        #expect(found.map { "\($0.line):\($0.column)" } == ["21:3", "22:12", "32:7", "34:17", "36:1"], "\(found)")
        #expect(found[0].message == "duplicate key `version` in one mapping (first at line 20); remove one")
        #expect(found[1].message.contains("graph_api.timeout"))
        #expect(found[2].message == "duplicate key `tolerance` in one mapping (first at line 31); remove one")
        #expect(found[3].message.contains("push.batching.max_events"))
        #expect(found[4].message == "duplicate key `id` in one mapping (first at line 2); remove one")
        #expect(!found.contains { $0.message.contains("capi_repeated_key") }, "a placeholder is never named")
    }

    @Test("a list item's first key repeated, in a file with CRLF line ends, is found too")
    func repeatedFirstKeyOfListItem() {
        let yaml =
            (minimalManifest
            + "push:\n  sources:\n    - name: app\n      name: other\n      scheme: stripe\n      secrets: [whsec_a]\n  mirror_salt: 0123456789abcdef\n")
            .replacingOccurrences(of: "\n", with: "\r\n")
        let found = problems(yaml)
        #expect(found.map(\.message) == ["duplicate key `name` in one mapping (first at line 26); remove one"], "\(found)")
        #expect(found.map { "\($0.line):\($0.column)" } == ["27:7"])
    }

    @Test("a repeat in a flow mapping, which is not read line by line, is still one located problem")
    func repeatedKeyInFlowMapping() {
        let found = problems(minimalManifest + "push: {mirror_salt: a, mirror_salt: b}\n")
        #expect(found.count == 1 && found[0].message == "duplicate key `mirror_salt` in one mapping" && found[0].line == 24, "\(found)")
    }

    @Test("YAML syntax errors are located")
    func syntaxError() {
        let found = problems("a: [1,\n b: 2")
        #expect(found.count == 1)
        #expect(found[0].message.hasPrefix("invalid YAML:"))
        #expect(found[0].line >= 2)
    }

    @Test("a tab where YAML wants spaces is named as a tab; a construct broken lines after its start names where it starts")
    func syntaxErrorsExplained() {
        let tab = problems(minimalManifest + "push:\n\tmirror_salt: 0123456789abcdef\n")
        #expect(tab.count == 1 && tab[0].message.hasSuffix("a tab character, and YAML indents with spaces only"), "\(tab)")
        #expect(tab.first.map { "\($0.line):\($0.column)" } == "25:1")
        let indented = problems("graph_api:\n  version: v26.0  # pinned\n   timeout: 1500ms\n")
        #expect(indented.count == 1, "\(indented)")
        #expect(
            indented.first?.message == "invalid YAML: did not find expected key (while parsing a block mapping, which starts at line 2, column 3)"
        )
        #expect(indented.first.map { "\($0.line):\($0.column)" } == "3:4")
    }

    @Test("a file that is no mapping at all (another file passed by mistake) is named as the manifest")
    func rootNotAMapping() {
        do {
            _ = try ManifestLoader(environment: [:]).load(yaml: "root:x:0:0:root:/root:/bin/bash", path: "passwd")
            Issue.record("loaded")
        } catch {
            #expect(error.problems.map(\.description) == ["passwd:1:1: the manifest must be a mapping (key: value lines), found a scalar"])
        }
    }

    @Test("a missing file is one clear problem")
    func missingFile() {
        #expect(throws: ManifestError.self) { try ManifestLoader(environment: [:]).load(path: "/nonexistent/m.yaml") }
        do {
            _ = try ManifestLoader(environment: [:]).load(path: "/nonexistent/m.yaml")
        } catch {
            #expect(error.problems.map(\.description) == ["/nonexistent/m.yaml:1:1: cannot read the manifest: no such file"])
        }
    }

    @Test("a file that is not UTF-8 names the line and column of its first bad byte, not Foundation's code")
    func notUTF8() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("capi-latin1-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // "name: café" saved as Latin-1: é is the single byte 0xE9, on line 2 after "name: caf".
        try Data("id: x\nname: caf".utf8 + [0xE9] + Data("\n".utf8)).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ManifestLoader(environment: [:]).load(path: path)
            Issue.record("loaded")
        } catch {
            #expect(
                error.problems.map(\.description) == [
                    "\(path):2:10: cannot read the manifest: it is not UTF-8 text (the first byte that is not is here)"
                ]
            )
        }
    }
}
