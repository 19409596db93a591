#!/usr/bin/env bash
# Pulls the container images the deployment will ask this host's Docker for (the Datadog Agent,
# the demo app's base image) while PostgreSQL installs, so they are local by the time Pulumi gets
# there: pulumi-docker's RemoteImage takes an image it finds locally instead of pulling it, and the
# app's build starts from the local base image. Started in the background by cloud-init; a failed
# pull costs only time, since Pulumi pulls whatever is missing.
#
# Which images: this instance's own tags (named by PREFETCH_IMAGE_TAGS), read from the instance
# metadata service. Tags and not user-data, because a changed user-data replaces the host, while
# a new agentVersion should only update a tag.
set -euo pipefail

ENV_FILE=${ENV_FILE:-/etc/dd-assessment/host.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
: "${PREFETCH_IMAGE_TAGS:?}"
IMDS=http://169.254.169.254/latest

log() { echo "dd-assessment-prefetch-images: $*" >&2; }

token=$(curl -fsS --retry 3 -X PUT "$IMDS/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
pulls=()
for tag in $PREFETCH_IMAGE_TAGS; do
  if ! image=$(curl -fsS --retry 3 -H "X-aws-ec2-metadata-token: $token" "$IMDS/meta-data/tags/instance/$tag"); then
    log "instance tag $tag not readable; skipping it"
    continue
  fi
  log "pulling $image"
  docker pull --quiet "$image" &
  pulls+=("$!")
done
failed=0
for pull in "${pulls[@]}"; do
  wait "$pull" || failed=$((failed + 1))
done
log "done, $failed failed"
