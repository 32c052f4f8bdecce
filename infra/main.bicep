// Omni Channels on Azure Functions Flex Consumption. Deploy with 'azd up', or with
// 'az deployment group create -g <group> -f infra/main.bicep -p environmentName=<name> ...' (docs/operators.md).
// No connection string or account key anywhere: one user-assigned identity reaches storage, Key Vault and
// Application Insights through role assignments.
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(40)
@description('Name of the environment (azd: AZURE_ENV_NAME); part of every resource name.')
param environmentName string

@description('Azure region for every resource. Must offer Flex Consumption.')
param location string = resourceGroup().location

@allowed([512, 2048, 4096])
@description('Memory of each instance in MB. Billing is per GB-second of this size: 512 is plenty for the handler (about 40 to 100 MB resident).')
param instanceMemoryMB int = 512

@minValue(1)
@maxValue(1000)
@description('Upper bound on instances across all functions: the cap on scale-out, and so on spend.')
param maximumInstanceCount int = 40

@secure()
@description('The platform admin token (Omni__AdminToken), at least 32 characters. Stored in Key Vault; empty keeps the value already there.')
param adminToken string = ''

@secure()
@description('Base64 of 32 random bytes (Omni__SecretsKey) that encrypts stored channel secrets. Stored in Key Vault; empty keeps the value already there. Never change it in place once channels exist: rotate with keyRingIds.')
param secretsKey string = ''

@description('The secrets key ring: key ids the app holds, comma-separated. \'legacy\' is secretsKey (Key Vault secret omni-secrets-key, Omni__SecretsKey); any other id (a-z, 0-9, \'-\') is the Key Vault secret omni-secrets-key-<id>, which you create. At most three besides legacy. Empty: legacy only. See docs/operators.md, "Rotating the secrets key".')
param keyRingIds string = ''

@description('The key id new writes use (Omni__SecretsKeyCurrent): one of keyRingIds. Empty: legacy.')
param keyRingCurrent string = ''

@minValue(30)
@maxValue(730)
@description('Days Log Analytics keeps logs and telemetry.')
param logRetentionInDays int = 30

@description('Key Vault purge protection. On by default: losing the secrets key loses every stored channel secret.')
param keyVaultPurgeProtection bool = true

@allowed(['Free_F1', 'Standard_S1'])
@description('Azure Web PubSub tier for the webchat\'s real-time replies: Free_F1 (20 concurrent visitors) or Standard_S1.')
param webPubSubSku string = 'Free_F1'

@allowed(['F0', 'S0'])
@description('Azure AI Speech tier for IVR prompt previews: S0, or F0 (free, one per subscription).')
param speechSku string = 'S0'

@description('Subscribe the app to ACS IncomingCall events. Event Grid checks the webhook while deploying, so turn this on once the app\'s code is deployed (docs/voice.md).')
param voiceEvents bool = false

@description('Where the operators\' alerts (failed deliveries, poison queues, stalled mailboxes, refused tokens) are mailed; empty: they only show in the portal.')
param alertEmail string = ''

@description('Tags for every resource.')
param tags object = {}

// Every table, queue and blob container the app declares with services.AddStorageResources(...) in Omni.Core.
// In Azure the app does not create them (Omni__Storage__ProvisionOnStart=false, which saves calls on every cold
// start), so a feature that adds one adds its name here, one per line. Queue-trigger queues named in
// Omni.Functions/functions/*/function.json belong here too; each queue also gets its '<name>-poison' queue.
// BicepTemplateTests fails when the app declares something this list lacks.
var storageTables = [
  'Companies'
  'Services'
  'Channels'
  'ChannelDirectory'
  'Credentials'
  'CredentialIndex'
  'AuditEvents'
  'Conversations'
  'Outbox'
  'WebhookDeliveries'
  'WebhookDue'
  'MailboxState'
  'MailQuarantine'
  'MetaMessages'
  'MailboxSchedule'
  'MailboxPollSlots'
  'QuotaUsage'
  'WhatsAppExpiry'
  'MercadoLivreNotifications'
  'MercadoLivreOAuthStates'
  'MercadoLivreReconnects'
  'MercadoLivreAttachments'
  'VoiceInventory'
  'VoiceSetup'
  'VoiceCalls'
  'Bots'
  'WebchatSessions'
]
var storageQueues = [
  'outbound-messages'
  'webhook-deliveries'
  'mailbox-polls'
  'meta-events'
  'mercadolivre-notifications'
]
var storageContainers = [
  'attachments'
  'webhook-payloads'
  'mail'
  'meta-events'
  'voice-audio'
  'voice-speech'
]

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var allTags = union(tags, { 'azd-env-name': environmentName })
var deploymentContainerName = 'deployment-package'
var adminTokenSecretName = 'omni-admin-token'
var secretsKeySecretName = 'omni-secrets-key'
var secretsKeyRing = empty(trim(keyRingIds)) ? ['legacy'] : map(split(keyRingIds, ','), id => trim(id))
// The app binds a list of {Id, Key} entries; App Service setting names cannot carry a key id's '-', and an object
// literal cannot be built by a loop, so the template writes three fixed slots (empty ones are ignored by the app).
var secretsKeySlots = filter(secretsKeyRing, id => id != 'legacy' && !empty(id))
// Known before the app exists, for the settings that name the app itself: a Flex Consumption app's default host
// name is <name>.azurewebsites.net.
var appName = 'func-omni-${environmentName}-${take(token, 8)}'

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: 'id-omni-${environmentName}'
    location: location
    tags: allTags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-omni-${environmentName}'
    applicationInsightsName: 'appi-omni-${environmentName}'
    location: location
    tags: allTags
    retentionInDays: logRetentionInDays
    identityPrincipalId: identity.outputs.principalId
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    workspaceName: monitoring.outputs.logAnalyticsName
    location: location
    tags: allTags
    environmentName: environmentName
    alertEmail: alertEmail
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: 'stomni${take(token, 18)}'
    location: location
    tags: allTags
    identityPrincipalId: identity.outputs.principalId
    deploymentContainerName: deploymentContainerName
    tables: storageTables
    queues: storageQueues
    containers: storageContainers
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: 'kv-omni-${take(token, 13)}'
    location: location
    tags: allTags
    identityPrincipalId: identity.outputs.principalId
    adminTokenSecretName: adminTokenSecretName
    secretsKeySecretName: secretsKeySecretName
    adminToken: adminToken
    secretsKey: secretsKey
    purgeProtection: keyVaultPurgeProtection
  }
}

module webPubSub 'modules/webpubsub.bicep' = {
  name: 'webpubsub'
  params: {
    name: 'wps-omni-${environmentName}-${take(token, 8)}'
    location: location
    tags: allTags
    identityPrincipalId: identity.outputs.principalId
    sku: webPubSubSku
  }
}

module communication 'modules/communication.bicep' = {
  name: 'communication'
  params: {
    name: 'acs-omni-${environmentName}-${take(token, 8)}'
    tags: allTags
    identityPrincipalId: identity.outputs.principalId
  }
}

module speech 'modules/speech.bicep' = {
  name: 'speech'
  params: {
    name: 'spch-omni-${environmentName}-${take(token, 8)}'
    location: location
    tags: allTags
    identityPrincipalId: identity.outputs.principalId
    communicationPrincipalId: communication.outputs.principalId
    sku: speechSku
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    planName: 'plan-omni-${environmentName}'
    appName: appName
    location: location
    tags: allTags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    appSettings: {
      // Read by both the Functions host and the app (Omni.Core/Storage/StorageConnection.cs).
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__blobServiceUri: storage.outputs.blobEndpoint
      AzureWebJobsStorage__queueServiceUri: storage.outputs.queueEndpoint
      AzureWebJobsStorage__tableServiceUri: storage.outputs.tableEndpoint
      APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.applicationInsightsConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.outputs.clientId};Authorization=AAD'
      // Versionless references: the app gets the latest secret version (see docs/operators.md on rotation).
      Omni__AdminToken: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/${adminTokenSecretName})'
      Omni__SecretsKey: contains(secretsKeyRing, 'legacy') ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/${secretsKeySecretName})' : ''
      Omni__SecretsKeyCurrent: keyRingCurrent
      Omni__SecretsKeys__0__Id: secretsKeySlots[?0] ?? ''
      Omni__SecretsKeys__0__Key: length(secretsKeySlots) > 0 ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/${secretsKeySecretName}-${secretsKeySlots[?0]})' : ''
      Omni__SecretsKeys__1__Id: secretsKeySlots[?1] ?? ''
      Omni__SecretsKeys__1__Key: length(secretsKeySlots) > 1 ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/${secretsKeySecretName}-${secretsKeySlots[?1]})' : ''
      Omni__SecretsKeys__2__Id: secretsKeySlots[?2] ?? ''
      Omni__SecretsKeys__2__Key: length(secretsKeySlots) > 2 ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/${secretsKeySecretName}-${secretsKeySlots[?2]})' : ''
      Omni__Storage__ProvisionOnStart: 'false'
      // The webchat's replies and visitors' sockets go through Web PubSub, reached with the app's identity.
      Omni__Webchat__WebPubSubEndpoint: webPubSub.outputs.endpoint
      Omni__Webchat__WebPubSubClientId: identity.outputs.clientId
      // Calls go through ACS Call Automation with the app's identity; ACS posts each call's events back to the app.
      Omni__Voice__AcsEndpoint: communication.outputs.endpoint
      Omni__Voice__AcsClientId: identity.outputs.clientId
      Omni__Voice__PublicBaseUrl: 'https://${appName}.azurewebsites.net'
      // ACS speaks the IVR's text messages through this AI resource, reached with ACS's own identity.
      Omni__Voice__CognitiveServicesEndpoint: speech.outputs.endpoint
      // Prompt previews are spoken by Azure AI Speech (no espeak-ng in the package), with the app's identity.
      Omni__Voice__SpeechEndpoint: speech.outputs.ttsEndpoint
      Omni__Voice__SpeechClientId: identity.outputs.clientId
    }
  }
}

module acsEvents 'modules/acsevents.bicep' = if (voiceEvents) {
  name: 'acsevents'
  params: {
    systemTopicName: communication.outputs.systemTopicName
    endpointUrl: 'https://${functionApp.outputs.defaultHostName}/api/providers/acs/events'
  }
}

output AZURE_LOCATION string = location
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
