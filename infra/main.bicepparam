// Example parameters for main.bicep. Each value comes from an environment variable when it is
// set (azd env set NAME VALUE, or export NAME=VALUE for az), otherwise from the placeholder.
// Placeholders starting with REPLACE fail the deployment until replaced.
using 'main.bicep'

param workspaceName = readEnvironmentVariable('SENTINEL_WORKSPACE_NAME', 'REPLACE-workspace-name')

// Empty means the resource group and subscription of this deployment.
param workspaceResourceGroup = readEnvironmentVariable('SENTINEL_WORKSPACE_RESOURCE_GROUP', '')
param workspaceSubscriptionId = readEnvironmentVariable('SENTINEL_WORKSPACE_SUBSCRIPTION_ID', '')

// az ad sp show --id 98785600-1bb7-4fb9-b9fa-19afe2c8a360 --query id -o tsv
param azureSecurityInsightsObjectId = readEnvironmentVariable('AZURE_SECURITY_INSIGHTS_OBJECT_ID', 'REPLACE-object-id')

// Secret: read from the environment only, never written here. An empty value fails validation.
param virusTotalApiKey = readEnvironmentVariable('VIRUSTOTAL_API_KEY', '')

param virusTotalRequestsPerMinute = int(readEnvironmentVariable('VIRUSTOTAL_REQUESTS_PER_MINUTE', '4'))

param deployPlaybook = bool(readEnvironmentVariable('DEPLOY_PLAYBOOK', 'true'))

param enrichedTag = 'Enriched IP addresses'

param tableRetentionInDays = 90

param namePrefix = 'ipenrich'

param tags = {
  workload: 'sentinel-ip-enrich'
}
