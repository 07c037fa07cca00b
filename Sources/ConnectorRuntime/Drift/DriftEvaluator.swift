import CAPICore

/// When a window's counts are a drift: the thresholds the manifest names.
public struct DriftThresholds: Sendable, Equatable {
    /// Events a window needs before it is judged, so a quiet pixel does not alarm on noise.
    public var minimumSample: Int
    /// A match key's coverage falling this many percentage points below the baseline.
    public var coverageDropPoints: Double
    /// The refusal rate rising this many points above the baseline.
    public var refusalRisePoints: Double
    /// A shape flag (milliseconds, value as string, currency shape) rising this many points.
    public var formatRisePoints: Double
    /// Share of applicable events that may lack a required field before it is an alarm.
    public var missingFieldShare: Double
    /// Meta's match-quality score (0–10) falling this much below the baseline.
    public var qualityDropPoints: Double

    public init(
        minimumSample: Int = 50,
        coverageDropPoints: Double = 20,
        refusalRisePoints: Double = 10,
        formatRisePoints: Double = 10,
        missingFieldShare: Double = 0,
        qualityDropPoints: Double = 1
    ) {
        self.minimumSample = minimumSample
        self.coverageDropPoints = coverageDropPoints
        self.refusalRisePoints = refusalRisePoints
        self.formatRisePoints = formatRisePoints
        self.missingFieldShare = missingFieldShare
        self.qualityDropPoints = qualityDropPoints
    }

    /// Events a window of `key` needs before it is judged: one pulled record is already Meta's
    /// aggregate of many events.
    public func minimumSample(for key: DriftKey) -> Int { key.isPulled ? 1 : minimumSample }
}

/// The kinds of drift, as alarm kinds.
public enum DriftKind: String, Sendable, CaseIterable, Codable {
    case coverageDrop = "schema_drift_coverage"
    case missingField = "schema_drift_missing_field"
    case refusalSpike = "schema_drift_refusals"
    case formatChange = "schema_drift_format"
    case unknownField = "schema_drift_unknown_field"
    case qualityDrop = "schema_drift_match_quality"
    case answerShape = "schema_drift_answer_shape"

    /// Events lost or refused, or a pull that cannot read Meta's answers, are critical; degrading
    /// attribution is a warning; a field nobody knows yet is worth knowing.
    public var severity: AlarmSeverity {
        switch self {
        case .missingField, .refusalSpike, .answerShape: .critical
        case .coverageDrop, .formatChange, .qualityDrop: .warning
        case .unknownField: .info
        }
    }
}

/// One thing wrong with a window: which kind, which field, and a detail without values.
public struct DriftFinding: Sendable, Equatable {
    public var kind: DriftKind
    public var field: String
    public var detail: String

    public init(kind: DriftKind, field: String, detail: String) {
        self.kind = kind
        self.field = field
        self.detail = detail
    }
}

/// What earlier windows looked like: running means of coverage, refusal rate, shape shares and
/// Meta's quality score, and the unknown fields already seen (so only a new one is news).
public struct DriftBaseline: Sendable, Equatable {
    public var windows: Int = 0
    public var coverage: [Double?] = Array(repeating: nil, count: WatchedField.allCases.count)
    public var refusalRate: Double = 0
    public var formatShares: [Double] = Array(repeating: 0, count: FormatFlag.allCases.count)
    public var quality: Double?
    public var unknownFields: Set<String> = []

    /// Unknown-field labels remembered per key; beyond this every further one stays news.
    public static let maximumUnknownFields = 64

    public init() {}
}

extension DriftBaseline: Codable {
    enum CodingKeys: String, CodingKey { case windows, coverage, refusalRate, formatShares, quality, unknownFields }

    /// Baselines stored before a measure existed decode without it.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        windows = try container.decode(Int.self, forKey: .windows)
        coverage = DriftCounters.resized(try container.decode([Double?].self, forKey: .coverage), to: WatchedField.allCases.count, padding: nil)
        refusalRate = try container.decode(Double.self, forKey: .refusalRate)
        formatShares = DriftCounters.resized(try container.decode([Double].self, forKey: .formatShares), to: FormatFlag.allCases.count, padding: 0)
        quality = try container.decodeIfPresent(Double.self, forKey: .quality)
        unknownFields = try container.decodeIfPresent(Set<String>.self, forKey: .unknownFields) ?? []
    }
}

/// Pure judgement of one window against its baseline.
public enum DriftEvaluator {
    /// Windows the running means weigh at most: older behaviour fades, a lasting change is learnt
    /// after about this many windows (unless an alarm freezes the baseline).
    public static let baselineWindows = 10

    public static func findings(_ window: DriftCounters, key: DriftKey, baseline: DriftBaseline?, thresholds: DriftThresholds) -> [DriftFinding] {
        guard window.events >= thresholds.minimumSample(for: key) else { return [] }
        var findings: [DriftFinding] = []
        for field in WatchedField.allCases {
            guard let coverage = window.coverage(field) else { continue }
            if field.isMatchKey {
                guard let before = baseline?.coverage[field.rawValue] else { continue }
                let drop = (before - coverage) * 100
                if drop > thresholds.coverageDropPoints {
                    findings.append(
                        DriftFinding(
                            kind: .coverageDrop,
                            field: field.name,
                            detail: "\(field.name) coverage fell from \(percent(before)) to \(percent(coverage)) over \(window.events) events"
                        )
                    )
                }
            } else if 1 - coverage > thresholds.missingFieldShare {
                findings.append(
                    DriftFinding(
                        kind: .missingField,
                        field: field.name,
                        detail: "\(field.name) missing in \(percent(1 - coverage)) of \(window.applicable[field.rawValue]) events that need it"
                    )
                )
            }
        }
        let refusalRise = (window.refusalRate - (baseline?.refusalRate ?? 0)) * 100
        if refusalRise > thresholds.refusalRisePoints {
            let top = window.refusals.max { $0.value < $1.value }?.key ?? "other"
            findings.append(
                DriftFinding(
                    kind: .refusalSpike,
                    field: top,
                    detail: "refusals rose to \(percent(window.refusalRate)) of \(window.events) events; most often \(top)"
                )
            )
        }
        for flag in FormatFlag.allCases {
            let rise = (window.share(flag) - (baseline?.formatShares[flag.rawValue] ?? 0)) * 100
            if rise > thresholds.formatRisePoints {
                findings.append(
                    DriftFinding(
                        kind: .formatChange,
                        field: flag.name,
                        detail: "\(flag.name) in \(percent(window.share(flag))) of \(window.events) events"
                    )
                )
            }
        }
        if let quality = window.quality, let before = baseline?.quality, before - quality > thresholds.qualityDropPoints {
            findings.append(
                DriftFinding(
                    kind: .qualityDrop,
                    field: "event_match_quality",
                    detail: "Meta's match quality fell from \(score(before)) to \(score(quality)) of 10"
                )
            )
        }
        for (problem, count) in window.shapeProblems.sorted(by: { $0.key < $1.key }) {
            let field = problem.prefix { $0 != ":" }
            findings.append(
                DriftFinding(
                    kind: .answerShape,
                    field: String(field),
                    detail: "Meta's \(key.stream) answer: \(problem) (\(count) of \(window.events) read)"
                )
            )
        }
        for label in window.unknownFields.keys.sorted() where label != "other" && !(baseline?.unknownFields.contains(label) ?? false) {
            findings.append(
                DriftFinding(
                    kind: .unknownField,
                    field: label,
                    detail: "a field no schema knows arrived in \(window.unknownFields[label] ?? 0) of \(window.events) events"
                )
            )
        }
        return findings
    }

    /// `baseline` with the unknown fields of `window` remembered: done for every judged window, even
    /// while an alarm freezes the rest, so a field is news once.
    public static func learningFields(_ baseline: DriftBaseline?, from window: DriftCounters) -> DriftBaseline {
        var next = baseline ?? DriftBaseline()
        for label in window.unknownFields.keys.sorted() where label != "other" && next.unknownFields.count < DriftBaseline.maximumUnknownFields {
            next.unknownFields.insert(label)
        }
        return next
    }

    /// `baseline` with `window` folded in (a running mean over at most ``baselineWindows``).
    public static func updated(_ baseline: DriftBaseline?, with window: DriftCounters) -> DriftBaseline {
        var next = baseline ?? DriftBaseline()
        let weight = 1 / Double(min(next.windows + 1, baselineWindows))
        func blend(_ old: Double?, _ new: Double) -> Double { old.map { $0 + (new - $0) * weight } ?? new }
        for field in WatchedField.allCases {
            if let coverage = window.coverage(field) { next.coverage[field.rawValue] = blend(next.coverage[field.rawValue], coverage) }
        }
        next.refusalRate = blend(next.windows == 0 ? nil : next.refusalRate, window.refusalRate)
        for flag in FormatFlag.allCases {
            next.formatShares[flag.rawValue] = blend(next.windows == 0 ? nil : next.formatShares[flag.rawValue], window.share(flag))
        }
        if let quality = window.quality { next.quality = blend(next.quality, quality) }
        next.windows += 1
        return learningFields(next, from: window)
    }

    static func percent(_ share: Double) -> String { "\(Int((share * 100).rounded()))%" }

    static func score(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
