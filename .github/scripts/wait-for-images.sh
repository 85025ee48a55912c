#!/usr/bin/env bash
# Waits until ECR replication has copied both service images of a tag into
# a region (replication is asynchronous; usually seconds to minutes).
# Usage: wait-for-images.sh <region> <tag>
set -euo pipefail
region="$1"
tag="$2"
for repo in sales-api sales-worker; do
  for attempt in $(seq 1 60); do
    if aws ecr describe-images --region "$region" --repository-name "$repo" --image-ids imageTag="$tag" >/dev/null 2>&1; then
      echo "${repo}:${tag} is in ${region}"
      break
    fi
    if [[ "$attempt" -eq 60 ]]; then
      echo "${repo}:${tag} did not reach ${region} within 10 minutes" >&2
      exit 1
    fi
    sleep 10
  done
done
