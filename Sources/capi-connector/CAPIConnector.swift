import ArgumentParser

@main
struct CAPIConnector: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capi-connector",
        abstract: "A connector runtime for Meta's Conversions API: a signed webhook-mirror sidecar (push) and a delivery-status poll job (pull).",
        discussion: """
        Every command reads the manifest (default manifests/meta_conversions_api.yaml);
        secrets and deployment values come from the environment via ${env:NAME}.

        Start here:
          capi-connector validate              check the manifest
          capi-connector serve --sandbox       push sidecar, Graph stand-in
          capi-connector poll --once           pull delivery status once
          capi-connector reconcile --since 2026-11-16 --until 2026-11-23
          capi-connector help <subcommand>     what each command does
        """,
        subcommands: [
            ServeCommand.self,
            PollCommand.self,
            ReconcileCommand.self,
            ValidateCommand.self,
            DiscoverCommand.self,
            ReadCommand.self,
            StateCommand.self,
            DLQCommand.self,
            NormalizeCommand.self,
            SandboxCommand.self,
            BenchCommand.self,
        ]
    )
}
