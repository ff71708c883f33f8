// sentinel-ip-enrich infrastructure: a Flex Consumption function app (Rust custom handler) that
// enriches Microsoft Sentinel incidents with VirusTotal IP reputation, the custom table and data
// collection rule it writes to, the forwarding playbook and the automation rule that runs it.
// Deploy to the app resource group. The Sentinel workspace must already exist and may live in
// another resource group or subscription. Written for Bicep 0.30 or newer.

targetScope = 'resourceGroup'

@description('Region of the app resources. The data collection rule goes to the workspace region instead.')
param location string = resourceGroup().location

@description('Prefix for resource names: 2 to 8 lowercase letters and digits, because the storage account name allows nothing else.')
@minLength(2)
@maxLength(8)
param namePrefix string = 'ipenrich'

@description('Tags for every resource created in the app resource group.')
param tags object = {}

@description('Name of the existing Log Analytics workspace with Microsoft Sentinel enabled.')
param workspaceName string

@description('Resource group of the workspace. Empty means the resource group of this deployment.')
param workspaceResourceGroup string = resourceGroup().name

@description('Subscription id of the workspace. Empty means the subscription of this deployment.')
param workspaceSubscriptionId string = subscription().subscriptionId

@description('Resource id of the workspace for Application Insights telemetry. Empty means the Sentinel workspace, where the telemetry is billed at the Sentinel rate.')
param appInsightsWorkspaceId string = ''

@description('VirusTotal API v3 key. Stored in Key Vault, never in app settings.')
@secure()
@minLength(1)
param virusTotalApiKey string

@description('VirusTotal requests per minute that the app allows itself. The free VirusTotal API allows 4 per minute and 500 per day.')
@minValue(1)
param virusTotalRequestsPerMinute int = 4

@description('Interactive retention of the IPReputation_CL table in days (4 to 730).')
@minValue(4)
@maxValue(730)
param tableRetentionInDays int = 90

// NOTE: each instance enforces virusTotalRequestsPerMinute on its own, so several busy instances
// together can exceed the VirusTotal quota. Microsoft Learn (Flex Consumption considerations)
// has listed 40 as the lowest value the platform accepts, which is why the default is not lower.
@description('Upper bound on function app instances (Flex Consumption accepts at most 1000).')
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per function app instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Zone redundancy for the Flex Consumption plan, available only in some regions.')
param zoneRedundant bool = false

@description('Deploy the forwarding playbook and the automation rule. Set false for a first deployment if reading the function key fails because the Functions host has not started yet.')
param deployPlaybook bool = true

@description('Object id of the Azure Security Insights service principal in this tenant: az ad sp show --id 98785600-1bb7-4fb9-b9fa-19afe2c8a360 --query id -o tsv')
@minLength(36)
@maxLength(36)
param azureSecurityInsightsObjectId string

@description('Tag that the automation rule adds to each incident it handled.')
param enrichedTag string = 'Enriched IP addresses'

@description('Position of the automation rule among the workspace automation rules. Lower numbers run first.')
@minValue(1)
@maxValue(1000)
param automationRuleOrder int = 10

var effectiveWorkspaceResourceGroup = empty(workspaceResourceGroup) ? resourceGroup().name : workspaceResourceGroup
var effectiveWorkspaceSubscriptionId = empty(workspaceSubscriptionId) ? subscription().subscriptionId : workspaceSubscriptionId

var prefix = toLower(namePrefix)
var resourceToken = uniqueString(subscription().id, resourceGroup().id, prefix)

var names = {
  storageAccount: take('st${prefix}${resourceToken}', 24)
  keyVault: take('kv-${prefix}-${resourceToken}', 24)
  appInsights: 'appi-${prefix}-${resourceToken}'
  plan: 'asp-${prefix}-${resourceToken}'
  functionApp: 'func-${prefix}-${resourceToken}'
  dataCollectionRule: 'dcr-${prefix}-${resourceToken}'
  playbook: 'la-${prefix}-forwarder-${resourceToken}'
  sentinelConnection: 'azuresentinel-${prefix}-${resourceToken}'
  deploymentContainer: 'app-package'
}

var tableName = 'IPReputation_CL'

// One row per IP address and incident. The data collection rule declares the same columns, so
// the function app must send exactly these names and types.
var reputationColumns = [
  {
    name: 'TimeGenerated'
    type: 'dateTime'
    description: 'Time the row was written.'
  }
  {
    name: 'IncidentArmId'
    type: 'string'
    description: 'ARM id of the Sentinel incident.'
  }
  {
    name: 'IncidentNumber'
    type: 'int'
    description: 'Incident number shown in Sentinel.'
  }
  {
    name: 'IPAddress'
    type: 'string'
    description: 'Normalized IP address that was looked up.'
  }
  {
    name: 'Input'
    type: 'string'
    description: 'Every spelling the address had in the incident entities, comma-separated.'
  }
  {
    name: 'Provider'
    type: 'string'
    description: 'Provider that decided the verdict, or every provider consulted, comma-separated.'
  }
  {
    name: 'Status'
    type: 'string'
    description: 'enriched, not_found, skipped, invalid or failed.'
  }
  {
    name: 'Verdict'
    type: 'string'
    description: 'malicious, suspicious, harmless or unknown.'
  }
  {
    name: 'Reason'
    type: 'string'
    description: 'Why the row has this status and verdict.'
  }
  {
    name: 'Reputation'
    type: 'int'
    description: 'VirusTotal community reputation score (votes, not engine results).'
  }
  {
    name: 'Malicious'
    type: 'int'
    description: 'Engines that rated the address malicious in the last analysis.'
  }
  {
    name: 'Suspicious'
    type: 'int'
    description: 'Engines that rated the address suspicious in the last analysis.'
  }
  {
    name: 'Harmless'
    type: 'int'
    description: 'Engines that rated the address harmless in the last analysis.'
  }
  {
    name: 'Undetected'
    type: 'int'
    description: 'Engines that had no finding in the last analysis.'
  }
  {
    name: 'Country'
    type: 'string'
    description: 'Country code reported by the provider.'
  }
  {
    name: 'Asn'
    type: 'long'
    description: 'Autonomous system number.'
  }
  {
    name: 'AsOwner'
    type: 'string'
    description: 'Owner of the autonomous system.'
  }
  {
    name: 'Network'
    type: 'string'
    description: 'Network (CIDR) that contains the address.'
  }
  {
    name: 'LastAnalysisTime'
    type: 'dateTime'
    description: 'Time of the provider last analysis.'
  }
  {
    name: 'Details'
    type: 'dynamic'
    description: 'Further provider fields as JSON.'
  }
]

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
  scope: resourceGroup(effectiveWorkspaceSubscriptionId, effectiveWorkspaceResourceGroup)
}

module reputationTable 'modules/reputation-table.bicep' = {
  name: 'ipenrich-table-${resourceToken}'
  scope: resourceGroup(effectiveWorkspaceSubscriptionId, effectiveWorkspaceResourceGroup)
  params: {
    workspaceName: workspaceName
    tableName: tableName
    columns: reputationColumns
    retentionInDays: tableRetentionInDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'ipenrich-storage-${resourceToken}'
  params: {
    name: names.storageAccount
    location: location
    tags: tags
    deploymentContainerName: names.deploymentContainer
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'ipenrich-keyvault-${resourceToken}'
  params: {
    name: names.keyVault
    location: location
    tags: tags
    virusTotalApiKey: virusTotalApiKey
  }
}

module appInsights 'modules/app-insights.bicep' = {
  name: 'ipenrich-appinsights-${resourceToken}'
  params: {
    name: names.appInsights
    location: location
    tags: tags
    workspaceResourceId: empty(appInsightsWorkspaceId) ? workspace.id : appInsightsWorkspaceId
  }
}

// The rule sits in the app resource group but in the workspace region, because the Logs
// Ingestion API needs the rule and its destination workspace in the same region. Taking the
// table name from the table module output makes the rule wait for the table.
module ingestion 'modules/ingestion.bicep' = {
  name: 'ipenrich-ingestion-${resourceToken}'
  params: {
    name: names.dataCollectionRule
    location: workspace.location
    tags: tags
    workspaceResourceId: workspace.id
    tableName: reputationTable.outputs.tableName
    columns: reputationColumns
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'ipenrich-functionapp-${resourceToken}'
  params: {
    planName: names.plan
    appName: names.functionApp
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appInsightsConnectionString: appInsights.outputs.connectionString
    virusTotalSecretUri: keyVault.outputs.virusTotalSecretUri
    virusTotalRequestsPerMinute: virusTotalRequestsPerMinute
    logsIngestionEndpoint: ingestion.outputs.logsIngestionEndpoint
    dataCollectionRuleImmutableId: ingestion.outputs.immutableId
    logsIngestionStreamName: ingestion.outputs.streamName
    sentinelWorkspaceId: workspace.id
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    zoneRedundant: zoneRedundant
  }
}

module appRoleAssignments 'modules/app-role-assignments.bicep' = {
  name: 'ipenrich-approles-${resourceToken}'
  params: {
    principalId: functionApp.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: appInsights.outputs.name
    dataCollectionRuleName: ingestion.outputs.name
  }
}

module functionSentinelAccess 'modules/sentinel-access.bicep' = {
  name: 'ipenrich-funcsentinel-${resourceToken}'
  scope: resourceGroup(effectiveWorkspaceSubscriptionId, effectiveWorkspaceResourceGroup)
  params: {
    workspaceName: workspaceName
    principalId: functionApp.outputs.principalId
    roleName: 'Microsoft Sentinel Responder'
  }
}

// The playbook reads the function key with listKeys, which needs a running Functions host, and
// the host needs its storage roles to start. Waiting for the role assignments narrows that gap.
module playbook 'modules/playbook.bicep' = if (deployPlaybook) {
  name: 'ipenrich-playbook-${resourceToken}'
  params: {
    name: names.playbook
    location: location
    tags: tags
    connectionName: names.sentinelConnection
    functionAppName: functionApp.outputs.name
    azureSecurityInsightsObjectId: azureSecurityInsightsObjectId
  }
  dependsOn: [
    appRoleAssignments
  ]
}

// Microsoft Learn (Authenticate playbooks to Microsoft Sentinel): a playbook that only receives
// incidents needs Microsoft Sentinel Reader.
module playbookSentinelAccess 'modules/sentinel-access.bicep' = if (deployPlaybook) {
  name: 'ipenrich-playbooksentinel-${resourceToken}'
  scope: resourceGroup(effectiveWorkspaceSubscriptionId, effectiveWorkspaceResourceGroup)
  params: {
    workspaceName: workspaceName
    principalId: deployPlaybook ? playbook.outputs.principalId : ''
    roleName: 'Microsoft Sentinel Reader'
  }
}

// Created last, so the playbook and every role it relies on exist when Sentinel validates it.
module automationRule 'modules/automation-rule.bicep' = if (deployPlaybook) {
  name: 'ipenrich-automationrule-${resourceToken}'
  scope: resourceGroup(effectiveWorkspaceSubscriptionId, effectiveWorkspaceResourceGroup)
  params: {
    workspaceName: workspaceName
    playbookId: deployPlaybook ? playbook.outputs.id : ''
    enrichedTag: enrichedTag
    order: automationRuleOrder
  }
  dependsOn: [
    playbookSentinelAccess
  ]
}

output functionAppName string = functionApp.outputs.name
output functionAppHostName string = functionApp.outputs.defaultHostName
output keyVaultName string = keyVault.outputs.name
output tableName string = reputationTable.outputs.tableName
output dataCollectionRuleId string = ingestion.outputs.id
output logsIngestionEndpoint string = ingestion.outputs.logsIngestionEndpoint
output dataCollectionRuleImmutableId string = ingestion.outputs.immutableId

@description('Resource id of the forwarding playbook. Empty when deployPlaybook is false.')
output playbookId string = deployPlaybook ? playbook.outputs.id : ''

@description('Resource id of the automation rule. Empty when deployPlaybook is false.')
output automationRuleId string = deployPlaybook ? automationRule.outputs.id : ''
