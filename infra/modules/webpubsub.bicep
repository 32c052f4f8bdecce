// Azure Web PubSub for the webchat: visitors' pages hold their sockets here, not on a function instance, so an idle
// visitor keeps nothing of ours running. No access key is used: local auth is off and the app's identity holds
// Web PubSub Service Owner (it issues client tokens through :generateToken and sends agents' replies).
param name string
param location string
param tags object
param identityPrincipalId string

@allowed(['Free_F1', 'Standard_S1'])
param sku string = 'Free_F1'

var webPubSubServiceOwner = '12cf5a90-567b-43ae-8102-96cf46c7d9b4'

resource webPubSub 'Microsoft.SignalRService/webPubSub@2024-03-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
    tier: sku == 'Free_F1' ? 'Free' : 'Standard'
    capacity: 1
  }
  properties: {
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource owner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(webPubSub.id, identityPrincipalId, webPubSubServiceOwner)
  scope: webPubSub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', webPubSubServiceOwner)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output endpoint string = 'https://${webPubSub.properties.hostName}'
