#!/usr/bin/env bash
# Builds the webhook Lambda's zip: bootstrap (the capi-connector binary), the manifest, the schemas.
#
# The binary must load on Amazon Linux 2023, whose glibc is older than this Debian's: build it in
# an Amazon Linux Swift image (or with Swift's static Linux SDK, which needs no glibc at all):
#   docker run --rm -v "$PWD":/src -w /src swift:6.3-amazonlinux2 deploy/aws/build-lambda.sh
# (glibc 2.26 there, older than Amazon Linux 2023's 2.34, so the binary loads on provided.al2023).
# The build command is the one CI runs, in release mode with the Swift runtime linked statically.
set -euo pipefail
cd "$(dirname "$0")/../.."
export SWIFT_DETERMINISTIC_HASHING=1
swift build -c release --product capi-connector --static-swift-stdlib
out=.build/lambda
rm -rf "$out/zip" && mkdir -p "$out/zip/manifests"
cp "$(swift build -c release --show-bin-path)/capi-connector" "$out/zip/bootstrap"
cp deploy/aws/lambda.yaml "$out/zip/manifests/meta_conversions_api.yaml"
cp -r schemas "$out/zip/schemas"
chmod 755 "$out/zip/bootstrap"   # zipfile keeps the mode: Lambda needs bootstrap executable
(cd "$out/zip" && rm -f ../capi-connector-lambda.zip && python3 -m zipfile -c ../capi-connector-lambda.zip bootstrap manifests schemas)
echo "built $out/capi-connector-lambda.zip"
