// Storage account for the Functions host (AzureWebJobsStorage) and the Flex Consumption
// deployment package. Shared keys are disabled, so every client authenticates with Entra ID.

@description('Storage account name: 3 to 24 lowercase letters and digits, unique across Azure.')
@minLength(3)
@maxLength(24)
param name string

param location string

param tags object = {}

@description('Blob container that holds the deployment package uploaded by azd or az functionapp deploy.')
param deploymentContainerName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Flex Consumption without VNet integration reaches its host storage over the public endpoint, so the firewall stays open. VNet integration and private endpoints are out of scope for the default deployment.
  // checkov:skip=CKV_AZURE_59: Same reason as CKV_AZURE_35. Public network access stays enabled, but shared keys are disabled and every request needs an Entra ID token with a data role.
  // checkov:skip=CKV_AZURE_206: The account holds only the deployment package and host leases and keys, which a redeployment recreates, so geo-replication would add cost without protecting data.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

output name string = storage.name
output deploymentContainerUrl string = '${storage.properties.primaryEndpoints.blob}${deploymentContainer.name}'
