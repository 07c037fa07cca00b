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

    public init(
        minimumSample: Int = 50,
        coverageDropPoints: Double = 20,
        refusalRisePoints: Double = 10,
        formatRisePoints: Double = 10,
        missingFieldShare: Double = 0
    ) {
        self.minimumSample = minimumSample
        self.coverageDropPoints = coverageDropPoints
        self.refusalRisePoints = refusalRisePoints
        self.formatRisePoints = formatRisePoints
        self.missingFieldShare = missingFieldShare
    }
}

/// The kinds of drift, as alarm kinds.
public enum DriftKind: String, Sendable, CaseIterable, Codable {
    case coverageDrop = "schema_drift_coverage"
    case missingField = "schema_drift_missing_field"
    case refusalSpike = "schema_drift_refusals"
    case formatChange = "schema_drift_format"
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

/// What earlier windows looked like: running means of coverage, refusal rate and shape shares.
public struct DriftBaseline: Sendable, Equatable, Codable {
    public var windows: Int = 0
    public var coverage: [Double?] = Array(repeating: nil, count: WatchedField.allCases.count)
    public var refusalRate: Double = 0
    public var formatShares: [Double] = Array(repeating: 0, count: FormatFlag.allCases.count)

    public init() {}
}

/// Pure judgement of one window against its baseline.
public enum DriftEvaluator {
    /// Windows the running means weigh at most: older behaviour fades, a lasting change is learnt
    /// after about this many windows (unless an alarm freezes the baseline).
    public static let baselineWindows = 10

    public static func findings(_ window: DriftCounters, baseline: DriftBaseline?, thresholds: DriftThresholds) -> [DriftFinding] {
        guard window.events >= thresholds.minimumSample else { return [] }
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
        return findings
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
        next.windows += 1
        return next
    }

    static func percent(_ share: Double) -> String { "\(Int((share * 100).rounded()))%" }
}
