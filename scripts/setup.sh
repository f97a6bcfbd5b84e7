#!/usr/bin/env bash
# Install what `make run` and `make test` need: Debian packages (as root, or through sudo, when
# they are missing; it says what it installs), then the project's virtualenv at .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
ldconfig -p 2>/dev/null | grep -q "libmagic.so.1" || need+=(libmagic1)
command -v npm >/dev/null || need+=(npm)  # fetches the google provider's schema (below)
# The fonts the adversarial synthetic receipts (TYPEFACES in tools/hard_receipts.py) and the glyph
# tests (tools/glyph_grid.py; Nimbus Sans has Helvetica's shapes) draw in, as package:file; the
# tools find them under /usr/share/fonts (or through fontconfig) and name the package if not.
command -v fc-list >/dev/null || need+=(fontconfig)
for font in fonts-roboto-unhinted:Roboto-Regular.ttf fonts-open-sans:OpenSans-Regular.ttf \
    fonts-lato:Lato-Regular.ttf fonts-noto-core:NotoSans-Regular.ttf \
    fonts-dejavu-core:DejaVuSans.ttf fonts-liberation:LiberationSans-Regular.ttf \
    fonts-urw-base35:NimbusSans-Regular.otf; do
  [ -n "$(find /usr/share/fonts /usr/local/share/fonts -name "${font#*:}" -print -quit 2>/dev/null)" ] \
    || need+=("${font%%:*}")
done
if [ "${WITH_EMULATORS:-1}" = 1 ]; then
  command -v java >/dev/null || need+=(default-jre-headless)
  command -v redis-server >/dev/null || need+=(redis-server)
  command -v chromium >/dev/null || need+=(chromium)
  [ -f /usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar ] \
    || need+=(google-cloud-cli-firestore-emulator)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq || true
  for package in "${need[@]}"; do
    # One at a time: the Firestore emulator comes from Google's Cloud SDK repository, which a
    # machine may not have; the tests then say so instead of the whole setup failing.
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null \
      || echo "setup: could not install $package; see the README's two commands"
  done
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating the virtualenv .venv"
  python3 -m venv .venv
fi
# install VENV ARGS...: pip's arguments, run by uv (the same packages from PyPI, resolved the same
# way, in seconds where pip takes minutes on 2 cores); pip itself when uv cannot be had or fails.
install() {
  local venv=$1
  shift
  if .venv/bin/python -m uv --version >/dev/null 2>&1 || .venv/bin/python -m pip install -q "uv>=0.5,<1"; then
    .venv/bin/python -m uv pip install -q --python "$venv/bin/python" "$@" && return 0
  fi
  echo "setup: uv could not install into $venv; using pip"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q "$@"
}
echo "setup: installing Python packages into .venv (requirements-dev.txt)"
install .venv -r requirements-dev.txt
# The project itself, editable: the `pix-receipts` command of pyproject.toml's [project.scripts].
install .venv --no-deps -e .

if [ "${WITH_EMULATORS:-1}" = 1 ]; then
  # The Cloud Tasks emulator pins protobuf<5, which the Google clients above outgrew: own venv.
  if [ ! -x .venv-tasks/bin/gcloud-tasks-emulator ]; then
    echo "setup: installing the Cloud Tasks emulator into .venv-tasks"
    python3 -m venv .venv-tasks
    install .venv-tasks "gcloud-tasks-emulator==0.6.*"
  fi
fi

# checkov scans terraform/ in tests/test_terraform.py. It pins its own python-hcl2 (and more),
# which clashes with the python-hcl2 8 in .venv: own venv, like the Tasks emulator.
if [ ! -x .venv-checkov/bin/checkov ]; then
  echo "setup: installing checkov into .venv-checkov"
  python3 -m venv .venv-checkov
  install .venv-checkov "checkov==3.3.30"
fi

# The google provider's schema for the offline Terraform checks (tests/test_terraform_check.py):
# the pinned @cdktf/provider-google from the npm registry, integrity-checked, kept in .cache/
# with the reduced schema the tests read (about 2 s when npm has it cached, 35 MB on disk).
if command -v npm >/dev/null; then
  .venv/bin/python -m tools.terraform_check fetch || echo "setup: could not fetch the provider schema; its tests will say so"
else
  echo "setup: npm is missing: the Terraform schema tests fail under CI and are skipped elsewhere"
fi
