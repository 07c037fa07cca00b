import Foundation
import TestSupport
import Testing

/// The files a deployment is made of stay in step with the code: the SAM template passes cfn-lint
/// and names only commands the binary has, the Lambda manifest loads, the Dockerfile copies what
/// exists, and .env.example lists every variable the shipped manifest reads.
@Suite("deployment files")
struct DeployArtifactsTests {
    static let root = CLIRunner.repositoryRoot
    static let template = root.appendingPathComponent("deploy/aws/template.yaml").path
    /// In CI always (`.ci/run` installs it); elsewhere when python3 has it.
    static var cfnLint: Bool {
        ProcessInfo.processInfo.environment["CI"] == "true"
            || (try? ProcessRunner.runBlocking("/usr/bin/env", ["python3", "-c", "import cfnlint"], environment: [:], stdin: nil).status) == 0
    }

    @Test("deploy/aws/template.yaml passes cfn-lint", .enabled(if: cfnLint))
    func lint() async throws {
        // cfn-lint's console entry point, run by the interpreter it was installed into.
        let entry = "import sys; from cfnlint.runner import main; sys.argv[0] = 'cfn-lint'; sys.exit(main())"
        let result = try await ProcessRunner.run("/usr/bin/env", ["python3", "-c", entry, "--format", "parseable", Self.template])
        #expect(result.status == 0, "cfn-lint:\n\(result.stdout)\(result.stderr)")
    }

    @Test("every command the template runs (schedules, sidecar, health check) is one the binary parses", .enabled(if: cfnLint))
    func templateCommands() async throws {
        // cfn-lint's own decoder reads the template's short-form tags (!Ref, !Sub, …).
        let script = """
            import json, sys
            from cfnlint.decode import decode
            template, errors = decode(sys.argv[1])
            if errors: sys.exit(str(errors))
            commands = []
            for name, resource in template["Resources"].items():
                props = resource.get("Properties", {})
                if resource["Type"] == "AWS::Scheduler::Schedule":
                    for override in json.loads(props["Target"]["Input"])["containerOverrides"]:
                        commands.append(override["command"])
                if resource["Type"] == "AWS::ECS::TaskDefinition":
                    for container in props["ContainerDefinitions"]:
                        commands.append(container["Command"])
                        check = container.get("HealthCheck", {}).get("Command")
                        if check: commands.append(check[2:])
            print(json.dumps(commands))
            """
        let result = try await ProcessRunner.run("/usr/bin/env", ["python3", "-c", script, Self.template])
        #expect(result.status == 0, "\(result.stderr)")
        let commands = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String]])
        #expect(Set(commands.compactMap(\.first)) == ["poll", "flush", "reconcile", "serve", "health"])
        // `--help` stops before an argument is checked: each command also runs as written, in an
        // empty folder (no manifest, no store), where it must get past its arguments and fail, if at
        // all, on what the folder lacks. ArgumentParser answers a usage error with 64.
        let folder = TemporaryPaths.url("template-commands")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for command in commands {
            let parsed = try await CLIRunner.run(command + ["--help"])
            #expect(parsed.status == 0 && parsed.stdout.contains("USAGE: capi-connector \(command[0])"), "\(command): \(parsed.stderr)")
            let ran = try await CLIRunner.run(command, directory: folder.path)
            #expect(ran.status != 64 && !ran.stderr.contains("Usage:"), "\(command): \(ran.stderr)")
        }
    }

    @Test("the Lambda manifest loads with its secrets read through the extension, and fits an invocation")
    func lambdaManifest() async throws {
        let secrets = SecretsExtensionStandIn(
            secrets: [
                "capi-connector/meta": #"{"access_token":"EAAB","mirror_salt":"salt-0123456789abcdef"}"#,
                "capi-connector/webhook": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "capi-connector/db": #"{"username":"capi","password":"Pa55word"}"#,
            ],
            token: "token"
        )
        try await secrets.withRunning { port in
            let result = try await CLIRunner.run(
                ["validate", "--manifest", "deploy/aws/lambda.yaml"],
                environment: [
                    "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": String(port), "AWS_SESSION_TOKEN": "token",
                    "META_PIXEL_ID": "555000111", "CAPI_DB_HOST": "proxy.internal",
                ]
            )
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(!result.stderr.contains("note:"), "the Lambda manifest's body limit fits an invocation")
        }
        // Outside Lambda (a CI step before a deploy) the secrets cannot be read: the rest is checked.
        let outside = try await CLIRunner.run(
            ["validate", "--manifest", "deploy/aws/lambda.yaml"],
            environment: ["META_PIXEL_ID": "555000111", "CAPI_DB_HOST": "proxy.internal", "AWS_SESSION_TOKEN": ""]
        )
        #expect(outside.status == 0, "\(outside.stdout)\(outside.stderr)")
        #expect(outside.stderr.contains("note: 4 ${aws-secret:…} references are not read here"), "\(outside.stderr)")
        // discover too: its catalog holds no secret. A pixel id read from a secret is one it needs.
        let discovered = try await CLIRunner.run(
            ["discover", "--manifest", "deploy/aws/lambda.yaml"],
            environment: ["META_PIXEL_ID": "555000111", "CAPI_DB_HOST": "proxy.internal", "AWS_SESSION_TOKEN": ""]
        )
        #expect(discovered.status == 0 && discovered.stdout.contains(#""pixel_id" : "555000111""#), "\(discovered.stdout)\(discovered.stderr)")
        let secretPixel = TemporaryPaths.url("lambda-secret-pixel", suffix: ".yaml")
        try String(contentsOf: Self.root.appendingPathComponent("deploy/aws/lambda.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "id: ${env:META_PIXEL_ID}", with: "id: ${aws-secret:capi-connector/meta#pixel_id}")
            .write(to: secretPixel, atomically: true, encoding: .utf8)
        let needsSecret = try await CLIRunner.run(
            ["discover", "--manifest", secretPixel.path],
            environment: ["CAPI_DB_HOST": "proxy.internal", "AWS_SESSION_TOKEN": ""]
        )
        #expect(
            needsSecret.status == 2 && needsSecret.stderr.contains("the value at \(secretPixel.path):31:9 does not load without its secret"),
            "\(needsSecret.stderr)"
        )
        #expect(needsSecret.stdout.isEmpty)
        let unset = try await CLIRunner.run(
            ["validate", "--manifest", "deploy/aws/lambda.yaml"],
            environment: ["META_PIXEL_ID": "555000111", "AWS_SESSION_TOKEN": ""]
        )
        #expect(unset.status == 2 && unset.stdout.contains("state.url: environment variable CAPI_DB_HOST is not set"), "\(unset.stdout)")
        #expect(!unset.stdout.contains("aws-secret"), "only what could be checked is reported: \(unset.stdout)")
        // The shipped manifest allows more than an invocation carries: validate says so.
        let shipped = try await CLIRunner.run(["validate"], environment: ["CAPI_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
        #expect(shipped.status == 0 && shipped.stderr.contains("under `lambda` request bodies are capped at"))
    }

    @Test("the Dockerfile copies only what exists, and builds with the command the Lambda build uses")
    func dockerfile() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("Dockerfile"), encoding: .utf8)
        let sources = text.split(separator: "\n").filter { $0.hasPrefix("COPY ") && !$0.contains("--from=") }
            .flatMap { $0.split(separator: " ").dropFirst().dropLast() }
        #expect(Set(sources) == ["Package.swift", "Sources", "Tests", "manifests", "schemas"])
        for source in sources { #expect(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(String(source)).path), "\(source)") }
        let build = "swift build -c release --product capi-connector --static-swift-stdlib"
        let lambda = try String(contentsOf: Self.root.appendingPathComponent("deploy/aws/build-lambda.sh"), encoding: .utf8)
        #expect(text.contains(build) && lambda.contains(build))
        #expect(!text.split(separator: "\n").contains { $0.hasPrefix("HEALTHCHECK") }, "health is declared in the task definitions, not the image")
    }

    @Test(".env.example lists every environment variable the shipped manifest reads")
    func environmentExample() throws {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("manifests/meta_conversions_api.yaml"), encoding: .utf8)
        let example = try String(contentsOf: Self.root.appendingPathComponent(".env.example"), encoding: .utf8)
        let listed = Set(example.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { $0.split(separator: "=").first.map(String.init) })
        let pattern = try Regex(#"\$\{env:([A-Z0-9_]+)"#)
        let values = manifest.split(separator: "\n").filter { !$0.drop(while: { $0 == " " }).hasPrefix("#") }.joined(separator: "\n")
        let read = Set(values.matches(of: pattern).compactMap { $0.output[1].substring.map(String.init) })
        #expect(!read.isEmpty)
        #expect(read.subtracting(listed).isEmpty, "missing from .env.example: \(read.subtracting(listed).sorted())")
    }
}
