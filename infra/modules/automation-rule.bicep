// Automation rule on the existing Sentinel workspace: on every new incident that has an IP
// entity, run the forwarding playbook, then add a tag. Sentinel moves on to the next action
// after two minutes whether or not the playbook has finished.
// Deploy this module with scope resourceGroup(workspace subscription, workspace resource group).

param workspaceName string

@description('Resource id of the forwarding playbook (Logic App workflow).')
param playbookId string

@description('Tag added to every incident that the rule handled.')
param enrichedTag string

@description('Position among the workspace automation rules. Lower numbers run first.')
@minValue(1)
@maxValue(1000)
param order int

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource rule 'Microsoft.SecurityInsights/automationRules@2025-09-01' = {
  // The name is a guid derived from the workspace and the playbook, so a redeployment updates
  // this rule instead of creating a second one.
  name: guid(workspace.id, playbookId, 'sentinel-ip-enrich')
  scope: workspace
  properties: {
    displayName: 'Enrich IP addresses on new incidents'
    order: order
    triggeringLogic: {
      isEnabled: true
      triggersOn: 'Incidents'
      triggersWhen: 'Created'
      conditions: [
        // NOTE: Contains with an empty value list is meant to match every incident that has an
        // IP entity. The automation rules reference does not state this, so confirm it on a test incident.
        {
          conditionType: 'Property'
          conditionProperties: {
            propertyName: 'IPAddress'
            operator: 'Contains'
            propertyValues: []
          }
        }
      ]
    }
    actions: [
      {
        order: 1
        actionType: 'RunPlaybook'
        actionConfiguration: {
          logicAppResourceId: playbookId
          tenantId: subscription().tenantId
        }
      }
      {
        order: 2
        actionType: 'ModifyProperties'
        actionConfiguration: {
          labels: [
            {
              labelName: enrichedTag
            }
          ]
        }
      }
    ]
  }
}

output id string = rule.id
