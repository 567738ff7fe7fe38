import ArgumentParser
import Foundation
import PosApp

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print the effective configuration: each setting's value and where it came from, secrets redacted.",
        discussion: "Exits non-zero, listing every problem, when serve would refuse to start with these settings.")

    @OptionGroup var listen: ListenOptions
    @OptionGroup var database: DatabaseOptions
    @Flag(help: "Print one JSON object ({settings:[{name,value,source}],problems:[…]}) instead of a table.") var json = false

    struct Report: Encodable {
        let settings: [EffectiveSetting]
        let problems: [String]
    }

    func run() throws {
        let reading = ServiceSettings.read(from: SettingsSource(flags: database.flags.merging(listen.flags) { _, flag in flag }))
        let problems: [String]
        switch reading.settings {
        case .success(let settings): problems = settings.servingProblems
        case .failure(let failure): problems = failure.problems
        }
        if json {
            try printJSON(Report(settings: reading.effective, problems: problems))
        } else {
            let rows = reading.effective.map { [$0.name, $0.value ?? "(unset)", $0.source.rawValue] }
            let widths = (0..<2).map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                print(row[0].padding(toLength: widths[0], withPad: " ", startingAt: 0) + "  "
                      + row[1].padding(toLength: widths[1], withPad: " ", startingAt: 0) + "  " + row[2])
            }
        }
        if !problems.isEmpty { throw refused(problems.joined(separator: "\n")) }
    }
}
