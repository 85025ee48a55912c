variable "name_prefix" {
  description = "Prefix of the roles' names."
  type        = string
  default     = "sales"
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose workflows may assume the CI roles."
  type        = string
}

variable "main_branch" {
  description = "Branch whose pushes build images."
  type        = string
  default     = "main"
}

variable "deploy_environments" {
  description = "GitHub environments whose jobs may assume the deploy role (protected, with required reviewers)."
  type        = list(string)
  default     = ["prod"]
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (false when the account already has it)."
  type        = bool
  default     = true
}

variable "state_bucket_names" {
  description = "Terraform state buckets the plan role reads and locks."
  type        = list(string)
}

variable "repository_arns" {
  description = "ECR repositories the images role pushes to."
  type        = list(string)
}

variable "operator_principal_arns" {
  description = "Principals that may assume the operator role (empty: any principal of the account allowed by its own IAM policy)."
  type        = list(string)
  default     = []
}

variable "operator_requires_mfa" {
  description = "Require MFA to assume the operator role."
  type        = bool
  default     = true
}

variable "attach_aws_managed_policies" {
  description = "Attach AWS's managed ReadOnlyAccess (plan) and AdministratorAccess (deploy) policies (off only where an emulator does not have them)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
