import ArgumentParser
import Foundation
import OpsCore
import OpsProtocol

/// `kinsta-ops kinds [KIND]` — `GET /v1/kinds`: the catalog of job kinds the daemon carries.
struct KindsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kinds",
        abstract: "List the job kinds the daemon carries, with their Kinsta call and parameters.",
        discussion: """
            One line per kind: its name, its Kinsta call, what it occupies and how an answer lost on the way is \
            settled. With a KIND, that kind's parameters too. --json prints the daemon's catalog as it is.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Show this kind's parameters.", valueName: "kind")) var kind: String?

    func run() async throws {
        try await global.withClient { client in
            let (catalog, raw) = try await client.get(KindCatalogView.self, "/\(socketAPIVersion)/kinds")
            if global.json {
                Console.out(Format.rawJSON(raw))
                return
            }
            if let kind {
                guard let view = catalog.kinds.first(where: { $0.name == kind }) else {
                    throw CLIError.usage("the daemon has no kind \(kind)")
                }
                Console.out("\(view.name): \(view.summary)")
                Console.out("  call:     \(view.method) \(view.path) (answers \(view.acceptedStatus))")
                Console.out("  occupies: \(view.targets.joined(separator: ", "))")
                Console.out("  settle:   \(view.settle)")
                if !view.outputs.isEmpty {
                    Console.out("  outputs:  \(view.outputs.map(\.name).joined(separator: ", "))")
                }
                var table = Table([.init("PARAM"), .init("TYPE"), .init("REQUIRED"), .init("HELP")])
                for param in view.params {
                    let required = param.required ? (param.configured != nil ? "config" : "yes") : ""
                    let help = param.help + (param.secret ? " [secret]" : "")
                    table.append([param.name, param.type, required, help])
                }
                Console.out("")
                for line in table.render() { Console.out(line) }
                return
            }
            var table = Table([.init("KIND"), .init("CALL", maxWidth: 70), .init("OCCUPIES"), .init("SETTLE")])
            for view in catalog.kinds {
                table.append([
                    view.name, "\(view.method) \(view.path)", view.targets.joined(separator: " "),
                    view.settle.components(separatedBy: ":").first ?? view.settle,
                ])
            }
            for line in table.render() { Console.out(line) }
        }
    }
}
