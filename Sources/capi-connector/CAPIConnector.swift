import ArgumentParser

@main
struct CAPIConnector: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capi-connector",
        abstract: "A connector runtime for Meta's Conversions API: a signed webhook-mirror sidecar (push) and a delivery-status poll job (pull).",
        discussion: """
        Every command reads the manifest (default: manifests/meta_conversions_api.yaml). Secrets and
        deployment values come from the environment through ${env:NAME} references in it.

        Start here:
          capi-connector validate                 check the manifest, one FILE:LINE:COL line per problem
          capi-connector discover                 the streams this manifest produces, as JSON
          echo '{"field":"em","value":" A@B.COM "}' | capi-connector normalize
        """,
        subcommands: [
            ValidateCommand.self,
            DiscoverCommand.self,
            NormalizeCommand.self,
            SandboxCommand.self,
            ServeCommand.self,
            DLQCommand.self,
            PollCommand.self,
            ReconcileCommand.self,
            StateCommand.self,
            ReadCommand.self,
            BenchCommand.self,
        ]
    )
}
