#!/usr/bin/env bash
# Health gate after a region's deployment: both services stable (what ECS
# considers a finished deployment), every API target healthy behind the
# internal load balancer, and no alarm of the region firing.
# Usage: health-gate.sh <region>
set -euo pipefail
region="$1"
cluster=sales

echo "== ECS services stable in ${region}"
timeout 900 aws ecs wait services-stable --region "$region" --cluster "$cluster" --services sales-api sales-worker

echo "== API targets healthy in ${region}"
tg="$(aws elbv2 describe-target-groups --region "$region" --names sales-api --query 'TargetGroups[0].TargetGroupArn' --output text)"
for attempt in $(seq 1 30); do
  unhealthy="$(aws elbv2 describe-target-health --region "$region" --target-group-arn "$tg" \
    --query 'length(TargetHealthDescriptions[?TargetHealth.State!=`healthy`])' --output text)"
  total="$(aws elbv2 describe-target-health --region "$region" --target-group-arn "$tg" \
    --query 'length(TargetHealthDescriptions)' --output text)"
  if [[ "$total" -gt 0 && "$unhealthy" -eq 0 ]]; then
    echo "all ${total} targets healthy"
    break
  fi
  if [[ "$attempt" -eq 30 ]]; then
    echo "targets not healthy after 5 minutes (${unhealthy} of ${total} unhealthy)" >&2
    exit 1
  fi
  sleep 10
done

echo "== alarms of ${region}"
firing="$(aws cloudwatch describe-alarms --region "$region" --alarm-name-prefix sales- --state-value ALARM \
  --query 'MetricAlarms[].AlarmName' --output text)"
if [[ -n "$firing" ]]; then
  echo "alarms firing: ${firing}" >&2
  exit 1
fi
echo "health gate passed for ${region}"
