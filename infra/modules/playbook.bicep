// Forwarding playbook. Automation rules can run only Logic App playbooks with the Microsoft
// Sentinel incident trigger, so this workflow receives the incident and posts the trigger body
// unchanged to the function app.

param name string

param location string

param tags object = {}

@description('Name of the Microsoft Sentinel API connection that the trigger uses.')
param connectionName string

@description('Name of the function app in this resource group.')
param functionAppName string

@description('Object id of the Azure Security Insights service principal (appId 98785600-1bb7-4fb9-b9fa-19afe2c8a360) in this tenant.')
@minLength(36)
@maxLength(36)
param azureSecurityInsightsObjectId string

// Built-in role definition id, the same in every tenant (Microsoft Learn, Azure built-in roles).
var roles = {
  sentinelAutomationContributor: 'f4c81013-99ee-4d62-a7ee-b3f1f648599a' // Microsoft Sentinel Automation Contributor
}

var sentinelManagedApiId = subscriptionResourceId('Microsoft.Web/locations/managedApis', location, 'azuresentinel')

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

// parameterValueType Alternative makes the connection authenticate as the managed identity of
// the workflow that uses it, so the connection holds no credential.
resource sentinelConnection 'Microsoft.Web/connections@2016-06-01' = {
  name: connectionName
  location: location
  tags: tags
  kind: 'V1'
  properties: {
    displayName: connectionName
    customParameterValues: {}
    parameterValueType: 'Alternative'
    api: {
      id: sentinelManagedApiId
    }
  }
}

resource playbook 'Microsoft.Logic/workflows@2019-05-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    state: 'Enabled'
    definition: {
      '$schema': 'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#'
      contentVersion: '1.0.0.0'
      parameters: {
        '$connections': {
          type: 'Object'
          defaultValue: {}
        }
        functionKey: {
          type: 'SecureString'
          defaultValue: ''
        }
      }
      triggers: {
        Microsoft_Sentinel_incident: {
          type: 'ApiConnectionWebhook'
          inputs: {
            host: {
              connection: {
                name: '@parameters(\'$connections\')[\'azuresentinel\'][\'connectionId\']'
              }
            }
            body: {
              callback_url: '@{listCallbackUrl()}'
            }
            path: '/incident-creation'
          }
        }
      }
      actions: {
        Forward_incident_to_function: {
          type: 'Http'
          runAfter: {}
          inputs: {
            method: 'POST'
            uri: 'https://${functionApp.properties.defaultHostName}/api/EnrichIncident'
            headers: {
              'Content-Type': 'application/json'
              'x-functions-key': '@parameters(\'functionKey\')'
            }
            body: '@triggerBody()'
            retryPolicy: {
              type: 'exponential'
              count: 4
              interval: 'PT30S'
            }
          }
          // Hides the inputs, which carry the function key, from the run history.
          runtimeConfiguration: {
            secureData: {
              properties: [
                'inputs'
              ]
            }
          }
        }
      }
      outputs: {}
    }
    parameters: {
      '$connections': {
        value: {
          azuresentinel: {
            connectionId: sentinelConnection.id
            connectionName: sentinelConnection.name
            id: sentinelManagedApiId
            connectionProperties: {
              authentication: {
                type: 'ManagedServiceIdentity'
              }
            }
          }
        }
      }
      // NOTE: listKeys asks the Functions host for its default key. It fails while the host has
      // not started (for example before the identity can reach the host storage), so rerun the
      // deployment, or deploy first with deployPlaybook = false.
      functionKey: {
        value: listKeys('${functionApp.id}/host/default', '2023-12-01').functionKeys.default
      }
    }
  }
}

// Sentinel runs playbooks as the Azure Security Insights service principal, which needs this
// role on the resource group of the playbook.
resource sentinelRunsPlaybooks 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, azureSecurityInsightsObjectId, roles.sentinelAutomationContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.sentinelAutomationContributor)
    principalId: azureSecurityInsightsObjectId
    principalType: 'ServicePrincipal'
  }
}

output id string = playbook.id
output name string = playbook.name
output principalId string = playbook.identity.principalId
