#!/usr/bin/env bash
# Deploy, preview or tear down a stack of dd-assessment, checking everything it needs first.
#
#   scripts/deploy.sh up|preview|destroy [stack] [--yes] [--secrets-provider URL] [--policy]
#   scripts/deploy.sh check      step 1 only (make up runs it before it builds ./venv)
#
# stack defaults to `test`. In order:
#   1. prerequisites: the Pulumi CLI, AWS CLI v2 with usable credentials and an OpenSSH client
#      8.5+ (each problem named, with its fix); once the stack is known, the Session Manager
#      plugin when it reaches its hosts through Session Manager (hostAccess: ssm, the default);
#   2. backend (scripts/pulumi-backend.sh): PULUMI_BACKEND_URL if set, else the backend you are
#      logged in to (`pulumi whoami`), else a file backend inside the project
#      (file://<project>/.pulumi-state, gitignored) given to each pulumi call as PULUMI_BACKEND_URL:
#      never `pulumi login`, which would change the backend of every project on the machine;
#   3. the stack: selected, or created (with --secrets-provider, e.g. awskms://alias/...?region=...,
#      else the backend's default: a passphrase from PULUMI_CONFIG_PASSPHRASE on DIY backends);
#   4. per-user config the stack lacks (aws:region, offered from the AWS CLI's own configuration;
#      who may connect: appAllowedCidrs, or sshAllowedCidrs under hostAccess ssh; sshPublicKey,
#      notifyHandles, Datadog keys): asked for on a terminal, otherwise listed as the exact
#      `pulumi config set` commands. They land in Pulumi.<stack>.yaml, which git ignores;
#   5. `pulumi up` / `preview` / `destroy` (destroy asks for the stack name unless --yes); with
#      --policy, up and preview run the CrossGuard pack in policy/ as the pull-request preview does.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: scripts/deploy.sh up|preview|destroy [stack] [--yes] [--secrets-provider URL] [--policy]
       scripts/deploy.sh check   (the prerequisites only)
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
    up | preview | destroy | check)
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

AWS_CLI_INSTALL="install AWS CLI v2: macOS \`brew install awscli\`; Linux x86_64 \`curl -fsSLo awscliv2.zip https://awscli.amazonaws.com/awscli-exe-linux-x86_64.zip && unzip -q awscliv2.zip && sudo ./aws/install\`; others: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"

# The AWS CLI is needed in any case: the readiness gate runs it, and so does every SSH session
# through Session Manager.
aws_problem() {
  if ! command -v aws >/dev/null 2>&1; then
    printf 'AWS CLI: not on PATH (the readiness gate and Session Manager run it); %s' "$AWS_CLI_INSTALL"
    return 0
  fi
  local version
  version=$(aws --version 2>&1 | head -n 1)
  if [[ $version != aws-cli/2.* ]]; then
    printf 'AWS CLI: version 2 needed, found "%s"; %s' "${version%% *}" "$AWS_CLI_INSTALL"
    return 0
  fi
  local err status=0 reason
  err=$(aws sts get-caller-identity --output text 2>&1 >/dev/null) || status=$?
  ((status)) || return 0
  # AWS CLI v2 writes a blank line, then the error (awscli/errorhandler.py; since 2.34 prefixed
  # "aws: [ERROR]: " by awscli/errorformat.py): the reason is the first line that is not blank.
  reason=$(printf '%s\n' "$err" | sed -e '/^[[:space:]]*$/d' -e 's/^aws: \[ERROR\]: //' | head -n 1)
  printf "AWS credentials: \`aws sts get-caller-identity\` failed (%s); configure them with \`aws configure\` (access keys) or \`aws configure sso\` + \`aws sso login\` (again when the session expired), or export AWS_PROFILE=<profile>, then check with \`aws sts get-caller-identity\`" \
    "${reason:-exit status $status, no message}"
}

# Host keys are pinned with KnownHostsCommand, which OpenSSH has since 8.5.
openssh_problem() {
  local version
  version=$(ssh -V 2>&1 || true)
  if [[ $version =~ OpenSSH_([0-9]+)\.([0-9]+) ]]; then
    ((BASH_REMATCH[1] > 8 || (BASH_REMATCH[1] == 8 && BASH_REMATCH[2] >= 5))) && return 0
    printf "OpenSSH client: %s is too old; 8.5 or newer pins the hosts' keys (KnownHostsCommand): update it (macOS: \`brew install openssh\`; Linux: your openssh-client package)" "${version%%,*}"
    return 0
  fi
  printf "OpenSSH client: \`ssh\` not found; install OpenSSH 8.5 or newer (macOS ships it; Linux: the openssh-client package)"
}

problems=()
if ! command -v pulumi >/dev/null 2>&1; then
  problems+=("pulumi: the Pulumi CLI is not on PATH. Install it from https://www.pulumi.com/docs/iac/download-install/ (Linux/macOS: \`curl -fsSL https://get.pulumi.com | sh\`, then open a new shell)")
fi
for check in aws_problem openssh_problem; do
  problem=$($check)
  [[ -z $problem ]] || problems+=("$problem")
done
if [[ $POLICY == true && ! -x $ROOT/policy/venv/bin/python ]]; then
  problems+=("policy pack: policy/venv does not exist; create it with \`python3 -m venv policy/venv && policy/venv/bin/pip install -r policy/requirements.txt\`")
fi
if ((${#problems[@]})); then
  say "deploy: cannot $COMMAND stack '$STACK' yet:"
  for problem in "${problems[@]}"; do say "  - $problem"; done
  exit 1
fi
[[ $COMMAND != check ]] || exit 0

# ---------------------------------------------------------------------------------------------
# 2. Backend.

# shellcheck source=scripts/pulumi-backend.sh
source "$ROOT/scripts/pulumi-backend.sh"
choose_backend
case "$BACKEND_FROM" in
  env) say "deploy: backend $BACKEND (PULUMI_BACKEND_URL)" ;;
  login) say "deploy: backend ${BACKEND:-you are logged in to} (pulumi whoami)" ;;
  project)
    mkdir -p "$PROJECT_STATE_DIR"
    say "deploy: backend $BACKEND, this project's own (no PULUMI_BACKEND_URL, no pulumi login; your"
    say "        Pulumi login is left as it is). make verify, snapshot and load find it themselves; for"
    say "        pulumi commands of your own here: export PULUMI_BACKEND_URL=$BACKEND"
    say "        (a shared backend instead: export PULUMI_BACKEND_URL=s3://...; see backend/README.md)"
    ;;
esac

# ---------------------------------------------------------------------------------------------
# 3. Stack (and its passphrase, when its secrets provider is a passphrase).

STACK_FILE="Pulumi.$STACK.yaml"
stack_exists=false
if pulumi stack select "$STACK" </dev/null >/dev/null 2>&1; then
  stack_exists=true
fi

# What this machine needs to reach the hosts depends on the stack's hostAccess (ssm by default).
HOST_ACCESS=ssm
if [[ $stack_exists == true ]]; then
  HOST_ACCESS=$(pulumi config get hostAccess --stack "$STACK" </dev/null 2>/dev/null || echo ssm)
fi
if [[ $HOST_ACCESS == ssm ]] && ! command -v session-manager-plugin >/dev/null 2>&1; then
  die "Session Manager plugin: not on PATH, and stack '$STACK' reaches its hosts through Session Manager (hostAccess: ssm, the default). Install it: macOS \`brew install --cask session-manager-plugin\`; Debian/Ubuntu \`curl -fsSLo /tmp/session-manager-plugin.deb https://s3.amazonaws.com/session-manager-downloads/plugin/latest/ubuntu_64bit/session-manager-plugin.deb && sudo dpkg -i /tmp/session-manager-plugin.deb\` (ubuntu_arm64 on ARM); others: https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html. Or open port 22 instead: \`pulumi config set --stack $STACK hostAccess ssh\`"
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

# The region: the stack's own, else offered from what you chose for the AWS CLI (AWS_REGION,
# AWS_DEFAULT_REGION, then `aws configure`), else the project's us-east-2.
if ! has_config aws:region; then
  region=${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region 2>/dev/null || true)}}
  region=${region:-us-east-2}
  if interactive; then
    read -r -p "aws:region: the AWS region for stack '$STACK' [$region]: " answer
    config_set aws:region "${answer:-$region}"
  else
    missing+=("pulumi config set --stack $STACK aws:region $region")
  fi
fi

# Who may connect: under ssh, SSH (and, unless appAllowedCidrs says otherwise, the app) from
# sshAllowedCidrs; under ssm no port 22 is open and only the app needs CIDRs (appAllowedCidrs, or
# sshAllowedCidrs, its default).
cidr_key=""
if [[ $HOST_ACCESS == ssh ]]; then
  cidr_key=sshAllowedCidrs cidr_what="CIDR(s) allowed to SSH to the hosts and reach the app"
elif ! has_config sshAllowedCidrs; then
  cidr_key=appAllowedCidrs cidr_what="CIDR(s) allowed to reach the demo app on port 80"
fi
if [[ -n $cidr_key ]] && ! has_config "$cidr_key"; then
  if interactive; then
    suggestion=""
    if command -v curl >/dev/null 2>&1; then
      ip=$(curl -fsS --max-time 5 https://checkip.amazonaws.com 2>/dev/null | tr -d '[:space:]' || true)
      [[ ! $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || suggestion="$ip/32"
    fi
    read -r -p "$cidr_key: $cidr_what, comma-separated${suggestion:+ [$suggestion, your address]}: " answer
    answer=${answer:-$suggestion}
    [[ -n $answer ]] || die "$cidr_key is required (e.g. 203.0.113.10/32)"
    IFS=', ' read -r -a cidrs <<<"$answer"
    for index in "${!cidrs[@]}"; do
      config_set --path "${cidr_key}[$index]" "${cidrs[$index]}"
    done
  else
    missing+=("pulumi config set --stack $STACK --path '${cidr_key}[0]' \"\$(curl -s https://checkip.amazonaws.com)/32\"")
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
