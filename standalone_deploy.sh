#!/usr/bin/env bash
# FedIDS: one command for a FATE 2.2 standalone, the project, its tests and its demo.
# Run `./standalone_deploy.sh --help` for the commands.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${ROOT}/.venv"
FATE_HOME="${ROOT}/.fate"
FLOW_HOME="${FATE_HOME}/flow"
FLOW_PID_FILE="${FATE_HOME}/fate_flow.pid"
FLOW_LOG_DIR="${FLOW_HOME}/logs"
INSTALL_STAMP="${VENV}/.fedids-installed"
PINS="${ROOT}/requirements/fate-2.2.txt"
FATE_VERSION="2.2.0"

FLOW_HOST="${FEDIDS_FLOW_HOST:-127.0.0.1}"
FLOW_HTTP_PORT="${FEDIDS_FLOW_HTTP_PORT:-9380}"
FLOW_GRPC_PORT="${FEDIDS_FLOW_GRPC_PORT:-9360}"
FLOW_START_TIMEOUT_S="${FEDIDS_FLOW_START_TIMEOUT_S:-180}"
DOCKER_IMAGE="${FEDIDS_DOCKER_IMAGE:-federatedai/standalone_fate:${FATE_VERSION}}"
DOCKER_CONTAINER="${FEDIDS_DOCKER_CONTAINER:-fedids_standalone_fate}"
# Where FATE lives inside the official standalone image (its bin/init_env.sh sets up the env).
DOCKER_FATE_HOME="${FEDIDS_DOCKER_FATE_HOME:-/data/projects/fate}"
DOCKER_PROJECT_DIR="/workspace/fedids"

export FEDIDS_FLOW_HOST="${FLOW_HOST}" FEDIDS_FLOW_HTTP_PORT="${FLOW_HTTP_PORT}"

usage() {
  cat <<EOF
Usage: ./standalone_deploy.sh [COMMAND] [ARGS...]
       ./standalone_deploy.sh --docker [--dry-run] [demo ARGS...]

Commands:
  up        (default) create .venv, install FATE ${FATE_VERSION} and this project, initialise a
            FATE Flow home under .fate/, start FATE Flow and wait until it answers. Idempotent.
  status    exit 0 only when FATE Flow answers at ${FLOW_HOST}:${FLOW_HTTP_PORT}
  down      stop the FATE Flow this script started (and nothing else)
  toy       run FATE's toy job across two parties; fails unless the job succeeds
  test      the test suite: set up if needed, start FATE Flow, run pytest (ARGS go to pytest),
            stop what it started, exit with pytest's status
  demo      the main job (ARGS go to 'fedids demo')
  --docker  run the demo inside FATE's official image ${DOCKER_IMAGE}
            (FATE Board on port 8080); --dry-run prints the docker commands only.
            Not exercised by CI.

Environment:
  FEDIDS_FLOW_HTTP_PORT (9380), FEDIDS_FLOW_GRPC_PORT (9360), FEDIDS_FLOW_HOST (127.0.0.1),
  PYTHON (python interpreter for .venv, >= 3.10), FEDIDS_FLOW_START_TIMEOUT_S (180)

Logs: FATE Flow ${FLOW_LOG_DIR}/, jobs ${FLOW_LOG_DIR}/<job_id>/
Reset: ./standalone_deploy.sh down && rm -rf .fate .venv
EOF
}

say() { printf '\033[1m[fedids]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[fedids] error:\033[0m %s\n' "$*" >&2; exit 1; }

# ----------------------------------------------------------------------------- checks
find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.11 python3.12 python3.10 python3; do
    [ -n "${candidate}" ] || continue
    command -v "${candidate}" >/dev/null 2>&1 || continue
    if "${candidate}" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
      echo "${candidate}"; return 0
    fi
  done
  return 1
}

# Exit 0 when FATE Flow answers with code 0 at the configured HTTP port.
flow_answers() {
  python3 - "${FLOW_HOST}" "${FLOW_HTTP_PORT}" <<'PY' >/dev/null 2>&1
import json, sys, urllib.request
url = f"http://{sys.argv[1]}:{sys.argv[2]}/v2/server/fateflow"
with urllib.request.urlopen(url, timeout=3) as r:
    sys.exit(0 if json.loads(r.read()).get("code") == 0 else 1)
PY
}

# Exit 0 when something listens on the TCP port.
port_in_use() {
  python3 - "${FLOW_HOST}" "$1" <<'PY' >/dev/null 2>&1
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)
PY
}

our_flow_pid() {
  [ -f "${FLOW_PID_FILE}" ] || return 1
  local pid; pid="$(cat "${FLOW_PID_FILE}")"
  [ -n "${pid}" ] && kill -0 "${pid}" 2>/dev/null || return 1
  echo "${pid}"
}

# ----------------------------------------------------------------------------- steps
ensure_venv() {
  if [ -x "${VENV}/bin/python" ]; then
    say "virtual environment ${VENV} exists"
    return
  fi
  local py; py="$(find_python)" || die "Python >= 3.10 not found; install it or set PYTHON=/path/to/python3.11"
  say "creating virtual environment ${VENV} with $(${py} --version)"
  "${py}" -m venv "${VENV}"
}

install_stamp_content() {
  # What the installation depends on: if any of it changes, install again.
  cat "${PINS}" "${ROOT}/pyproject.toml"
  echo "fate=${FATE_VERSION} python=$("${VENV}/bin/python" -c 'import sys; print(sys.version)')"
}

ensure_installed() {
  local wanted; wanted="$(install_stamp_content | sha256sum | cut -d' ' -f1)"
  if [ -f "${INSTALL_STAMP}" ] && [ "$(cat "${INSTALL_STAMP}")" = "${wanted}" ]; then
    say "FATE ${FATE_VERSION} and fedids already installed in .venv (nothing to install)"
    return
  fi
  local pip=("${VENV}/bin/python" -m pip --disable-pip-version-check)
  say "installing FATE ${FATE_VERSION}'s pinned dependencies (${PINS#"${ROOT}"/})"
  "${pip[@]}" install -q -r "${PINS}"
  say "installing the FATE wheels pyfate, fate-client, fate-flow ${FATE_VERSION} (--no-deps: their pins are in the file above)"
  "${pip[@]}" install -q --no-deps "pyfate==${FATE_VERSION}" "fate-client==${FATE_VERSION}" "fate-flow==${FATE_VERSION}"
  say "installing fedids itself (pip install -e .[dev]) into the same environment FATE's tasks run in"
  "${pip[@]}" install -q -e "${ROOT}[dev]"
  echo "${wanted}" > "${INSTALL_STAMP}"
}

# fate_flow init writes the home into fate_flow's installed settings.py and copies its default
# conf/ into the home; it refuses to copy over an existing conf/, so run it only when needed.
ensure_flow_home() {
  local settings; settings="$("${VENV}/bin/python" -c 'import fate_flow, os; print(os.path.join(os.path.dirname(fate_flow.__file__), "settings.py"))')"
  if [ -f "${FLOW_HOME}/conf/service_conf.yaml" ] && grep -q "DEFAULT_SERVER_CONF_PATH = \"${FLOW_HOME}/conf\"" "${settings}"; then
    say "FATE Flow home ${FLOW_HOME} already initialised"
  else
    if grep -q '^DEFAULT_SERVER_CONF_PATH = "/' "${settings}"; then
      # settings.py names a home (e.g. a deleted .fate/): fate_flow init would read its missing
      # conf. A fresh copy of the fate-flow wheel restores the pristine settings.py.
      say "FATE Flow's settings name another home: restoring fate-flow's pristine settings (pip --force-reinstall --no-deps)"
      "${VENV}/bin/python" -m pip --disable-pip-version-check install -q --force-reinstall --no-deps "fate-flow==${FATE_VERSION}"
    fi
    say "initialising the FATE Flow home ${FLOW_HOME} (fate_flow init)"
    mkdir -p "${FATE_HOME}"
    local kept=""
    if [ -d "${FLOW_HOME}/conf" ]; then kept="${FLOW_HOME}/conf.kept.$$"; mv "${FLOW_HOME}/conf" "${kept}"; fi
    "${VENV}/bin/fate_flow" init --ip "${FLOW_HOST}" --port "${FLOW_HTTP_PORT}" --home "${FLOW_HOME}" >/dev/null
    if [ -n "${kept}" ]; then rm -rf "${FLOW_HOME}/conf"; mv "${kept}" "${FLOW_HOME}/conf"; fi
  fi
  # Ports and host come from the environment: update service_conf.yaml only where they differ.
  "${VENV}/bin/python" - "${FLOW_HOME}/conf/service_conf.yaml" "${FLOW_HOST}" "${FLOW_HTTP_PORT}" "${FLOW_GRPC_PORT}" <<'PY'
import sys
from ruamel import yaml
path, host, http_port, grpc_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(path) as f:
    conf = yaml.safe_load(f)
flow = conf["fateflow"]
wanted = {"host": host, "http_port": http_port, "grpc_port": grpc_port}
if any(flow.get(k) != v for k, v in wanted.items()):
    flow.update(wanted)
    with open(path, "w") as f:
        yaml.dump(conf, f, default_flow_style=False)
    print(f"[fedids] FATE Flow configured for {host} http {http_port} grpc {grpc_port}")
PY
  say "pointing the flow CLI and the pipeline API at ${FLOW_HOST}:${FLOW_HTTP_PORT} (flow init, pipeline init)"
  "${VENV}/bin/flow" init --ip "${FLOW_HOST}" --port "${FLOW_HTTP_PORT}" >/dev/null
  "${VENV}/bin/pipeline" init --ip "${FLOW_HOST}" --port "${FLOW_HTTP_PORT}" >/dev/null
}

start_flow() {
  local pid
  if pid="$(our_flow_pid)" && flow_answers; then
    say "FATE Flow already running (pid ${pid}) at http://${FLOW_HOST}:${FLOW_HTTP_PORT}"
    return
  fi
  if [ -z "${pid:-}" ]; then
    say "starting FATE Flow (http ${FLOW_HTTP_PORT}, grpc ${FLOW_GRPC_PORT}); logs in ${FLOW_LOG_DIR}/"
    mkdir -p "${FLOW_LOG_DIR}"
    local server; server="$("${VENV}/bin/python" -c 'import fate_flow, os; print(os.path.join(os.path.dirname(fate_flow.__file__), "fate_flow_server.py"))')"
    # setsid: FATE Flow and the task processes it spawns form one process group that `down` stops.
    # A plain background command (no subshell): $! is FATE Flow itself, and nothing holds our stdout.
    cd "${FLOW_HOME}"
    # FEDIDS_AUDIT_DIR: FedIDS tasks (forest, CRNN) record every object this site sends (fedids/audit.py).
    FEDIDS_AUDIT_DIR="${FEDIDS_AUDIT_DIR:-${FATE_HOME}/audit}" PATH="${VENV}/bin:${PATH}" \
      setsid "${VENV}/bin/python" "${server}" \
      >>"${FLOW_LOG_DIR}/console.log" 2>>"${FLOW_LOG_DIR}/error.log" </dev/null &
    pid=$!
    cd "${ROOT}"
    echo "${pid}" > "${FLOW_PID_FILE}"
  fi
  say "waiting for FATE Flow (pid ${pid}) to answer (up to ${FLOW_START_TIMEOUT_S} s)"
  local waited=0
  until flow_answers; do
    if ! kill -0 "${pid}" 2>/dev/null; then
      tail -n 30 "${FLOW_LOG_DIR}/error.log" >&2 || true
      rm -f "${FLOW_PID_FILE}"
      die "FATE Flow exited during start-up; see ${FLOW_LOG_DIR}/error.log and ${FLOW_LOG_DIR}/fate_flow/"
    fi
    if [ "${waited}" -ge "${FLOW_START_TIMEOUT_S}" ]; then
      die "FATE Flow did not answer within ${FLOW_START_TIMEOUT_S} s; see ${FLOW_LOG_DIR}/error.log"
    fi
    sleep 1; waited=$((waited + 1))
  done
  say "FATE Flow is up at http://${FLOW_HOST}:${FLOW_HTTP_PORT} (pid ${pid}); logs: ${FLOW_LOG_DIR}/"
}

# Before anything is configured: a port held by another program is the user's to resolve.
check_ports_free() {
  local pid port
  if pid="$(our_flow_pid)" && flow_answers; then return 0; fi
  for port in "${FLOW_HTTP_PORT}" "${FLOW_GRPC_PORT}"; do
    if port_in_use "${port}"; then
      die "port ${port} on ${FLOW_HOST} is taken by another program (not a FATE Flow of this script that answers there). Stop it, or choose other ports: FEDIDS_FLOW_HTTP_PORT=9480 FEDIDS_FLOW_GRPC_PORT=9460 ./standalone_deploy.sh"
    fi
  done
  if [ -n "${pid:-}" ]; then
    die "the FATE Flow this script started (pid ${pid}) does not answer on port ${FLOW_HTTP_PORT} (were the ports changed?); run ./standalone_deploy.sh down, then start again"
  fi
}

cmd_up() {
  check_ports_free
  ensure_venv
  ensure_installed
  ensure_flow_home
  start_flow
}

cmd_status() {
  if flow_answers; then
    local pid
    if pid="$(our_flow_pid)"; then
      say "FATE Flow answers at http://${FLOW_HOST}:${FLOW_HTTP_PORT} (started by this script, pid ${pid})"
    else
      say "FATE Flow answers at http://${FLOW_HOST}:${FLOW_HTTP_PORT} (not started by this script)"
    fi
    return 0
  fi
  say "FATE Flow does not answer at http://${FLOW_HOST}:${FLOW_HTTP_PORT}"
  return 1
}

cmd_down() {
  local pid
  if ! pid="$(our_flow_pid)"; then
    rm -f "${FLOW_PID_FILE}"
    if flow_answers; then
      say "a FATE Flow answers at ${FLOW_HOST}:${FLOW_HTTP_PORT} but this script did not start it: left alone"
    else
      say "no FATE Flow started by this script is running"
    fi
    return 0
  fi
  say "stopping FATE Flow (pid ${pid}) and its task processes"
  kill -TERM -- "-${pid}" 2>/dev/null || kill -TERM "${pid}" 2>/dev/null || true
  local waited=0
  while kill -0 "${pid}" 2>/dev/null && [ "${waited}" -lt 20 ]; do sleep 1; waited=$((waited + 1)); done
  if kill -0 "${pid}" 2>/dev/null; then
    say "FATE Flow did not stop within 20 s: killing it"
    kill -KILL -- "-${pid}" 2>/dev/null || kill -KILL "${pid}" 2>/dev/null || true
  fi
  rm -f "${FLOW_PID_FILE}"
  say "FATE Flow stopped"
}

party_ids_for_toy() {
  "${VENV}/bin/python" -c '
from fedids.config import load_parties
cfg = load_parties(); roles = cfg.roles("psi_check")
print(cfg.party_id(roles.guest), cfg.party_id(roles.hosts[0]))'
}

cmd_toy() {
  cmd_up
  local ids guest host
  ids="$(party_ids_for_toy)"; guest="${ids% *}"; host="${ids#* }"
  say "running FATE's toy job: guest ${guest}, host ${host}"
  local out
  out="$("${VENV}/bin/flow" test toy -gid "${guest}" -hid "${host}" -t 600 2>&1)" || true
  echo "${out}" | tail -n 3
  if ! echo "${out}" | grep -q " is success"; then
    local job; job="$(echo "${out}" | grep -o 'job [0-9]*' | head -n1 | cut -d' ' -f2)"
    die "FATE's toy job did not succeed (job ${job:-unknown}); logs: ${FLOW_LOG_DIR}/${job:-<job_id>}/"
  fi
  say "toy job succeeded"
}

cmd_test() {
  local started_here=0
  our_flow_pid >/dev/null || started_here=1
  cmd_up
  say "running the test suite (pytest; FATE-backed tests are marked 'fate')"
  local rc=0
  ( cd "${ROOT}" && "${VENV}/bin/python" -m pytest "$@" ) || rc=$?
  if [ "${started_here}" -eq 1 ]; then cmd_down; fi
  return "${rc}"
}

cmd_demo() {
  cmd_up
  "${VENV}/bin/fedids" demo "$@"
}

# ----------------------------------------------------------------------------- docker
docker_commands() {
  # One command per line; `--docker` runs them, `--docker --dry-run` prints them.
  local demo_args="$*"
  cat <<EOF
docker pull ${DOCKER_IMAGE}
docker rm -f ${DOCKER_CONTAINER}
docker run -d --name ${DOCKER_CONTAINER} -p 8080:8080 -p ${FLOW_HTTP_PORT}:9380 -v ${ROOT}:${DOCKER_PROJECT_DIR} ${DOCKER_IMAGE}
docker exec ${DOCKER_CONTAINER} bash -c 'source ${DOCKER_FATE_HOME}/bin/init_env.sh && python -m pip install -e ${DOCKER_PROJECT_DIR}'
docker exec ${DOCKER_CONTAINER} bash -c 'source ${DOCKER_FATE_HOME}/bin/init_env.sh && cd ${DOCKER_PROJECT_DIR} && fedids demo ${demo_args}'
EOF
}

cmd_docker() {
  local dry_run=0
  if [ "${1:-}" = "--dry-run" ]; then dry_run=1; shift; fi
  if [ "${1:-}" = "demo" ]; then shift; fi
  if [ "${dry_run}" -eq 1 ]; then
    say "dry run: the commands --docker would run (FATE Board: http://127.0.0.1:8080)" >&2
    docker_commands "$@"
    return 0
  fi
  command -v docker >/dev/null 2>&1 || die "docker not found; install Docker or use ./standalone_deploy.sh demo"
  docker info >/dev/null 2>&1 || die "docker has no running engine here; start one, or use ./standalone_deploy.sh demo"
  local line
  while IFS= read -r line; do
    say "${line}"
    if [[ "${line}" == "docker rm -f "* ]]; then bash -c "${line}" >/dev/null 2>&1 || true; else bash -c "${line}"; fi
  done < <(docker_commands "$@")
}

main() {
  local command="${1:-up}"
  [ $# -gt 0 ] && shift
  case "${command}" in
    -h|--help|help) usage ;;
    up) cmd_up ;;
    status) cmd_status ;;
    down) cmd_down ;;
    toy) cmd_toy ;;
    test) cmd_test "$@" ;;
    demo) cmd_demo "$@" ;;
    --docker) cmd_docker "$@" ;;
    *) usage >&2; die "unknown command '${command}'" ;;
  esac
}

main "$@"
