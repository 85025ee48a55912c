output "alarm_topic_arn" {
  description = "Topic every alarm of this region publishes to (other modules' alarms use it too)."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Names of the data path alarms."
  value = sort(concat(
    [for a in aws_cloudwatch_metric_alarm.queue_not_empty : a.alarm_name],
    [
      aws_cloudwatch_metric_alarm.oldest_message_age.alarm_name,
      aws_cloudwatch_metric_alarm.publisher_iterator_age.alarm_name,
      aws_cloudwatch_metric_alarm.publisher_errors.alarm_name,
    ],
  ))
}
