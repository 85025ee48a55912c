output "subscription_arns" {
  description = "Subscription ARN per queue label."
  value       = { for k, s in aws_sns_topic_subscription.queue : k => s.arn }
}
