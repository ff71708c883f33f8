// Flex Consumption plan and function app running the Rust custom handler.
// On Flex Consumption the runtime, scale and deployment source live in functionAppConfig, and
// FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and linuxFxVersion must not be set.

param planName string

param appName string

param location string

@description('Tags for both resources. The function app also gets azd-service-name, which azd deploy uses to find it.')
param tags object = {}

@description('Service name in azure.yaml.')
param azdServiceName string = 'enrich'

param storageAccountName string

@description('URL of the blob container that holds the deployment package.')
param deploymentContainerUrl string

param appInsightsConnectionString string

@description('Key Vault secret URI of the VirusTotal API key, without a version.')
param virusTotalSecretUri string

@description('VirusTotal requests per minute that the app allows itself. The free VirusTotal API allows 4.')
@minValue(1)
param virusTotalRequestsPerMinute int

param logsIngestionEndpoint string

@description('Immutable id of the data collection rule (dcr-...).')
param dataCollectionRuleImmutableId string

param logsIngestionStreamName string

@description('Full ARM id of the Sentinel workspace whose incidents the app may update.')
param sentinelWorkspaceId string

@description('Upper bound on instances. Microsoft Learn (Flex Consumption considerations) gives 1000 as the highest accepted value, and lists 40 as the lowest in some versions of the page.')
@maxValue(1000)
param maximumInstanceCount int

@description('Memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Zone redundancy for the plan. Flex Consumption offers it only in some regions.')
param zoneRedundant bool

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex Consumption supports zone redundancy only in some regions, so it is off by default. Set the zoneRedundant parameter where the region offers it.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: Callers authenticate with a function key (the playbook sends x-functions-key). The Logic App HTTP action holds no client certificate, so requiring one would block it.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales instances on demand up to maximumInstanceCount and has no numberOfWorkers setting.
  // checkov:skip=CKV_AZURE_213: Flex Consumption does not offer the App Service health check (siteConfig.healthCheckPath), so there is nothing to configure.
  // checkov:skip=CKV_AZURE_222: A Consumption Logic App posts to the function over the internet and cannot reach a private endpoint. Private networking is out of scope for the default deployment.
  name: appName
  location: location
  tags: union(tags, {
    'azd-service-name': azdServiceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        // Host storage with the system-assigned identity instead of a connection string.
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storageAccountName
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsightsConnectionString
        }
        // The component has local authentication disabled, so the host must use Entra ID.
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'Authorization=AAD'
        }
        {
          name: 'VIRUSTOTAL_API_KEY'
          value: '@Microsoft.KeyVault(SecretUri=${virusTotalSecretUri})'
        }
        {
          name: 'VIRUSTOTAL_REQUESTS_PER_MINUTE'
          value: string(virusTotalRequestsPerMinute)
        }
        {
          name: 'LOGS_INGESTION_ENDPOINT'
          value: logsIngestionEndpoint
        }
        {
          name: 'LOGS_INGESTION_DCR_ID'
          value: dataCollectionRuleImmutableId
        }
        {
          name: 'LOGS_INGESTION_STREAM'
          value: logsIngestionStreamName
        }
        {
          name: 'SENTINEL_ALLOWED_WORKSPACES'
          value: sentinelWorkspaceId
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      runtime: {
        name: 'custom'
        version: '1.0'
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
    }
  }
}

output name string = functionApp.name
output id string = functionApp.id
output defaultHostName string = functionApp.properties.defaultHostName
output principalId string = functionApp.identity.principalId
