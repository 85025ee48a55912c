# The region's ECS cluster: Fargate only (no instances to patch), Container
# Insights on, and Fargate Spot available as a capacity provider for work
# that tolerates interruption (the worker drains on SIGTERM within its stop
# timeout, which covers Spot's two-minute notice).

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  # Services that name no strategy run on on-demand Fargate.
  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = 0
    weight            = 1
  }
}
