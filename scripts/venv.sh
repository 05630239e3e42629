# Sourced by the scripts beside it: makes .venv (if missing) and installs the project into it.
# Re-installs only when pyproject.toml changed since the last install; links the tests' calendar hook every time.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ ! -x .venv/bin/python ]; then
  echo "Creating the virtual environment in .venv"
  python3 -m venv .venv
fi
stamp=.venv/.installed-pyproject
if [ ! -f "$stamp" ] || ! cmp -s pyproject.toml "$stamp"; then
  echo "Installing service-orders and its dependencies into .venv"
  # pip on the real calendar: a shifted one (below) is for the tests, and needs time-machine installed first
  env -u TEST_CALENDAR_SHIFT_DAYS .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
  cp pyproject.toml "$stamp"
fi
# TEST_CALENDAR_SHIFT_DAYS (tests/calendar_shift.py): linked, not copied, so the repository's hook is the one
# that runs; its name sorts after the editable install's __editable__*.pth, whose finder the hook imports through.
site_packages=(.venv/lib/python3*/site-packages)
for hook in calendar_shift.py calendar_shift.pth; do
  ln -sfn "$root/tests/$hook" "${site_packages[0]}/service_orders_$hook"
done
