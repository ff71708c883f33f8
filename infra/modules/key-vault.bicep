// Key Vault in RBAC mode holding the VirusTotal API key. The function app reads it through a
// Key Vault reference in its app settings, with the Key Vault Secrets User role.

@description('Key Vault name: 3 to 24 letters, digits and hyphens, unique across Azure. A deleted vault keeps its name reserved for the soft-delete retention period.')
@minLength(3)
@maxLength(24)
param name string

param location string

param tags object = {}

@description('VirusTotal API v3 key, stored as the secret virustotal-api-key.')
@secure()
@minLength(1)
param virusTotalApiKey string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: The function app resolves its Key Vault reference over the public endpoint from Flex Consumption outbound addresses, which are not fixed, so the firewall cannot deny by default. VNet integration and private endpoints are out of scope for the default deployment.
  // checkov:skip=CKV_AZURE_189: Same reason as CKV_AZURE_109. Access still needs an Entra ID token and an RBAC role on this vault.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource virusTotalSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: VirusTotal issues API keys without an expiry date, so any date set here would be invented. Rotate the key by redeploying with a new value.
  parent: vault
  name: 'virustotal-api-key'
  properties: {
    value: virusTotalApiKey
    contentType: 'text/plain'
  }
}

output name string = vault.name

@description('Secret URI without a version, so the app picks up the newest version when App Service refreshes the reference.')
output virusTotalSecretUri string = virusTotalSecret.properties.secretUri
