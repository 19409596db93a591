#!/usr/bin/env bash
# Deploy, preview or tear down a stack of dd-assessment, checking everything it needs first.
#
#   scripts/deploy.sh up|preview|destroy [stack] [--yes] [--secrets-provider URL] [--policy]
#
# stack defaults to `test`. In order:
#   1. prerequisites: the Pulumi CLI and usable AWS credentials (each problem named, with its fix);
#   2. backend: PULUMI_BACKEND_URL if set, else the backend you are logged in to (`pulumi whoami`),
#      else a file backend inside the project (file://<project>/.pulumi-state, gitignored);
#   3. the stack: selected, or created (with --secrets-provider, e.g. awskms://alias/...?region=...,
#      else the backend's default: a passphrase from PULUMI_CONFIG_PASSPHRASE on DIY backends);
#   4. per-user config the stack lacks (sshAllowedCidrs, sshPublicKey, notifyHandles, Datadog
#      keys): asked for on a terminal, otherwise listed as the exact `pulumi config set` commands;
#   5. `pulumi up` / `preview` / `destroy` (destroy asks for the stack name unless --yes); with
#      --policy, up and preview run the CrossGuard pack in policy/ as the pull-request preview does.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: scripts/deploy.sh up|preview|destroy [stack] [--yes] [--secrets-provider URL] [--policy]
  stack               the stack to operate on (default: test)
  --yes, -y           no confirmation prompts (`pulumi up --yes`, destroy without asking)
  --secrets-provider  for a new stack only, e.g. awskms://alias/dd-assessment-pulumi-secrets?region=us-east-2
  --policy            run the policy pack in policy/ with up and preview (needs policy/venv)
EOF
}

say() { printf '%s\n' "$*" >&2; }
die() {
  say "deploy: $*"
  exit 1
}

COMMAND=""
STACK=""
YES=false
SECRETS_PROVIDER=""
POLICY=false
while (($#)); do
  case "$1" in
    up | preview | destroy)
      [[ -z $COMMAND ]] || { usage; exit 2; }
      COMMAND=$1
      ;;
    -y | --yes) YES=true ;;
    --policy) POLICY=true ;;
    --secrets-provider)
      (($# >= 2)) || { usage; exit 2; }
      SECRETS_PROVIDER=$2
      shift
      ;;
    --secrets-provider=*) SECRETS_PROVIDER=${1#*=} ;;
    -h | --help) usage; exit 0 ;;
    -*) say "deploy: unknown option $1"; usage; exit 2 ;;
    *)
      [[ -z $STACK && -n $COMMAND ]] || { usage; exit 2; }
      STACK=$1
      ;;
  esac
  shift
done
[[ -n $COMMAND ]] || { usage; exit 2; }
STACK=${STACK:-test}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PULUMI_SKIP_UPDATE_CHECK=${PULUMI_SKIP_UPDATE_CHECK:-true}

interactive() { [[ -t 0 ]]; }

# ---------------------------------------------------------------------------------------------
# 1. Prerequisites that need no backend. Every problem is reported at once.

aws_problem() {
  local fix="configure them with \`aws configure\` (access keys) or \`aws configure sso\` + \`aws sso login\`, or export AWS_PROFILE=<profile>"
  if command -v aws >/dev/null 2>&1; then
    local err
    if ! err=$(aws sts get-caller-identity --output text 2>&1 >/dev/null); then
      printf "AWS credentials: \`aws sts get-caller-identity\` failed (%s); %s, then check with \`aws sts get-caller-identity\`" \
        "$(printf '%s' "$err" | head -n 1)" "$fix"
    fi
    return 0
  fi
  if [[ -n ${AWS_ACCESS_KEY_ID:-} && -n ${AWS_SECRET_ACCESS_KEY:-} ]] || [[ -n ${AWS_PROFILE:-} ]] \
    || [[ -n ${AWS_WEB_IDENTITY_TOKEN_FILE:-} ]] || [[ -s ${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials} ]]; then
    return 0
  fi
  printf 'AWS credentials: none found (no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, no AWS_PROFILE, no ~/.aws/credentials). Install the AWS CLI (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) and %s; or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary keys)' "$fix"
}

problems=()
if ! command -v pulumi >/dev/null 2>&1; then
  problems+=("pulumi: the Pulumi CLI is not on PATH. Install it from https://www.pulumi.com/docs/iac/download-install/ (Linux/macOS: \`curl -fsSL https://get.pulumi.com | sh\`, then open a new shell)")
fi
problem=$(aws_problem)
[[ -z $problem ]] || problems+=("$problem")
if [[ $POLICY == true && ! -x $ROOT/policy/venv/bin/python ]]; then
  problems+=("policy pack: policy/venv does not exist; create it with \`python3 -m venv policy/venv && policy/venv/bin/pip install -r policy/requirements.txt\`")
fi
if ((${#problems[@]})); then
  say "deploy: cannot $COMMAND stack '$STACK' yet:"
  for problem in "${problems[@]}"; do say "  - $problem"; done
  exit 1
fi

# ---------------------------------------------------------------------------------------------
# 2. Backend.

STATE_DIR="$ROOT/.pulumi-state"
if [[ -n ${PULUMI_BACKEND_URL:-} ]]; then
  BACKEND=$PULUMI_BACKEND_URL
  say "deploy: backend $BACKEND (PULUMI_BACKEND_URL)"
elif pulumi whoami --non-interactive </dev/null >/dev/null 2>&1; then
  BACKEND=$(pulumi whoami --verbose --non-interactive </dev/null 2>/dev/null \
    | sed -n 's/^Backend URL: *//p' | head -n 1 || true)
  say "deploy: backend ${BACKEND:-you are logged in to} (pulumi whoami)"
else
  BACKEND="file://$STATE_DIR"
  mkdir -p "$STATE_DIR"
  say "deploy: no backend chosen; using the project's own file backend $BACKEND"
  say "        (another one: export PULUMI_BACKEND_URL=s3://... or \`pulumi login <url>\`; see backend/README.md)"
  pulumi login "$BACKEND" </dev/null
fi

# ---------------------------------------------------------------------------------------------
# 3. Stack (and its passphrase, when its secrets provider is a passphrase).

STACK_FILE="Pulumi.$STACK.yaml"
stack_exists=false
if pulumi stack select "$STACK" </dev/null >/dev/null 2>&1; then
  stack_exists=true
fi

needs_passphrase() {
  [[ -z ${PULUMI_CONFIG_PASSPHRASE:-} && -z ${PULUMI_CONFIG_PASSPHRASE_FILE:-} ]] || return 1
  if [[ -f $STACK_FILE ]] && grep -q '^encryptionsalt:' "$STACK_FILE"; then
    return 0 # an existing passphrase stack
  fi
  if [[ -f $STACK_FILE ]] && grep -q '^secretsprovider:' "$STACK_FILE"; then
    return 1 # a KMS/Vault/service provider
  fi
  if [[ $stack_exists == false ]]; then
    case "$SECRETS_PROVIDER" in "" | passphrase) ;; *) return 1 ;; esac
  fi
  case "$BACKEND" in file://* | s3://* | gs://* | azblob://*) return 0 ;; esac
  return 1
}

if needs_passphrase; then
  if ! interactive; then
    die "PULUMI_CONFIG_PASSPHRASE is not set. Stack '$STACK' on $BACKEND encrypts its secrets (your Datadog keys) with a passphrase: export PULUMI_CONFIG_PASSPHRASE='<a passphrase you keep>' (or PULUMI_CONFIG_PASSPHRASE_FILE=<file>) and re-run; or create the stack with a KMS key: --secrets-provider awskms://alias/<alias>?region=<region>"
  fi
  say "deploy: stack '$STACK' encrypts its secrets with a passphrase (set PULUMI_CONFIG_PASSPHRASE to skip this question)."
  read -r -s -p "Passphrase for stack '$STACK': " passphrase
  say ""
  [[ -n $passphrase ]] || die "an empty passphrase protects nothing; export PULUMI_CONFIG_PASSPHRASE and re-run"
  if [[ $stack_exists == false ]]; then
    read -r -s -p "The same passphrase again: " again
    say ""
    [[ $passphrase == "$again" ]] || die "the passphrases differ; nothing was created"
  fi
  export PULUMI_CONFIG_PASSPHRASE=$passphrase
fi

if [[ $stack_exists == false ]]; then
  say "deploy: creating stack '$STACK'"
  init=(pulumi stack init "$STACK")
  [[ -z $SECRETS_PROVIDER ]] || init+=(--secrets-provider "$SECRETS_PROVIDER")
  "${init[@]}" </dev/null
fi

# ---------------------------------------------------------------------------------------------
# 4. Per-user configuration the stack does not have yet.

config_get() { pulumi config get "$1" --stack "$STACK" </dev/null 2>/dev/null; }
config_set() { pulumi config set --stack "$STACK" "$@" </dev/null; }
has_config() { config_get "$1" >/dev/null; }
# A config value like `~/.ssh/key` holds a literal tilde: expand it as settings.py does.
# shellcheck disable=SC2088
expand_home() { local path=$1; [[ $path != "~/"* ]] || path="$HOME/${path#"~/"}"; printf '%s' "$path"; }

missing=()  # `pulumi config set` commands, for a non-interactive run
fatal=()    # problems no answer can fix

# The SSH key pair: pulumi-docker reaches the hosts with the private key.
if key=$(config_get sshPrivateKeyPath); then
  private_key=$(expand_home "$key")
else
  private_key="$HOME/.ssh/id_ed25519"
fi
if [[ ! -f $private_key ]]; then
  fatal+=("SSH private key: $private_key does not exist; pulumi-docker connects to the hosts with it. Create a pair with \`ssh-keygen -t ed25519 -f ~/.ssh/id_ed25519\`, or use an existing key: \`pulumi config set --stack $STACK sshPrivateKeyPath /path/to/key\` (and set sshPublicKey to its .pub line)")
fi
if ! has_config sshPublicKey; then
  public_key="$private_key.pub"
  if [[ ! -f $public_key ]]; then
    [[ ! -f $private_key ]] || fatal+=("SSH public key: $public_key does not exist; recreate it with \`ssh-keygen -y -f $private_key > $public_key\`, or \`pulumi config set --stack $STACK sshPublicKey \"<the .pub line>\"\`")
  elif interactive; then
    read -r -p "sshPublicKey is not set. Use $public_key? [Y/n] " answer
    case "$answer" in
      "" | [Yy]*) config_set sshPublicKey "$(cat "$public_key")" ;;
      *) fatal+=("sshPublicKey: not set; \`pulumi config set --stack $STACK sshPublicKey \"\$(cat <your key>.pub)\"\`") ;;
    esac
  else
    missing+=("pulumi config set --stack $STACK sshPublicKey \"\$(cat $public_key)\"")
  fi
fi
if ((${#fatal[@]})); then
  say "deploy: cannot $COMMAND stack '$STACK' yet:"
  for problem in "${fatal[@]}"; do say "  - $problem"; done
  exit 1
fi

# Who may SSH to the hosts (and reach the app, unless appAllowedCidrs says otherwise).
if ! has_config sshAllowedCidrs; then
  if interactive; then
    suggestion=""
    if command -v curl >/dev/null 2>&1; then
      ip=$(curl -fsS --max-time 5 https://checkip.amazonaws.com 2>/dev/null | tr -d '[:space:]' || true)
      [[ ! $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || suggestion="$ip/32"
    fi
    read -r -p "sshAllowedCidrs: CIDR(s) allowed to SSH to the hosts, comma-separated${suggestion:+ [$suggestion, your address]}: " answer
    answer=${answer:-$suggestion}
    [[ -n $answer ]] || die "sshAllowedCidrs is required (e.g. 203.0.113.10/32)"
    IFS=', ' read -r -a cidrs <<<"$answer"
    for index in "${!cidrs[@]}"; do
      config_set --path "sshAllowedCidrs[$index]" "${cidrs[$index]}"
    done
  else
    missing+=("pulumi config set --stack $STACK --path 'sshAllowedCidrs[0]' \"\$(curl -s https://checkip.amazonaws.com)/32\"")
  fi
fi

# Who the monitor notifies.
if ! has_config notifyHandles; then
  if interactive; then
    read -r -p "notifyHandles: Datadog handle(s) the monitor notifies, comma-separated (e.g. @you@example.com): " answer
    [[ -n $answer ]] || die "notifyHandles is required (e.g. @you@example.com)"
    IFS=', ' read -r -a handles <<<"$answer"
    for handle in "${handles[@]}"; do
      [[ $handle == @* ]] || die "notify handle '$handle' must start with @ (e.g. @you@example.com)"
    done
    for index in "${!handles[@]}"; do
      config_set --path "notifyHandles[$index]" "${handles[$index]}"
    done
  else
    missing+=("pulumi config set --stack $STACK --path 'notifyHandles[0]' @you@example.com")
  fi
fi

# Datadog keys: stack secrets, or DD_API_KEY / DD_APP_KEY in the environment.
for pair in apiKey:DD_API_KEY appKey:DD_APP_KEY; do
  key=${pair%%:*} env=${pair#*:}
  if [[ -n ${!env:-} ]] || has_config "datadog:$key"; then
    continue
  fi
  if interactive; then
    read -r -s -p "datadog:$key (hidden; or Ctrl-C and export $env): " value
    say ""
    [[ -n $value ]] || die "datadog:$key is required"
    # Through stdin: a secret on the command line would show in the process list.
    printf '%s' "$value" | pulumi config set --stack "$STACK" --secret "datadog:$key"
    unset value
  else
    missing+=("pulumi config set --stack $STACK --secret datadog:$key   # prompts for the key; or export $env")
  fi
done

if ((${#missing[@]})); then
  say "deploy: stack '$STACK' lacks configuration and stdin is not a terminal to ask for it. Run:"
  for command in "${missing[@]}"; do say "  $command"; done
  say "then re-run scripts/deploy.sh $COMMAND $STACK"
  exit 1
fi

# ---------------------------------------------------------------------------------------------
# 5. Run.

policy=()
[[ $POLICY == false ]] || policy=(--policy-pack "$ROOT/policy")
case "$COMMAND" in
  preview)
    exec pulumi preview --stack "$STACK" "${policy[@]}"
    ;;
  up)
    if [[ $YES == true ]]; then
      exec pulumi up --stack "$STACK" "${policy[@]}" --yes
    fi
    interactive || die "stdin is not a terminal, so \`pulumi up\` cannot ask for confirmation: pass --yes"
    exec pulumi up --stack "$STACK" "${policy[@]}"
    ;;
  destroy)
    if [[ $YES != true ]]; then
      interactive || die "refusing to destroy stack '$STACK' without confirmation: pass --yes"
      read -r -p "Destroy every resource of stack '$STACK' on $BACKEND? Type the stack name to confirm: " answer
      [[ $answer == "$STACK" ]] || die "not confirmed; nothing was destroyed"
    fi
    exec pulumi destroy --stack "$STACK" --yes
    ;;
esac
