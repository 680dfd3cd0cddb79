import { runPartitionKeys, type TableSchema } from '../types.js';
import { col, customerId } from './common.js';

export const omniChannelEngagement: TableSchema = {
  name: 'omni_channel_engagement',
  zone: 'analytics',
  location: 'omni_channel_engagement/',
  description:
    'Email, ad, web and purchase activity per customer over the engagement window, with rates and a channel mix; every customer with an email, ad or web event or a revenue order in the window appears, whichever source it is in.',
  columns: [
    customerId,
    col('emails_sent', 'int', 'Marketing emails sent.'),
    col('email_opens', 'int', 'Email opens.'),
    col('email_clicks', 'int', 'Email clicks.'),
    col('ad_views', 'int', 'Ad views.'),
    col('ad_clicks', 'int', 'Ad clicks.'),
    col('web_visits', 'int', 'Web visits.'),
    col('orders', 'int', 'Revenue orders.'),
    col('spend', 'decimal(14,2)', 'Revenue order spend.'),
    col('web_orders', 'int', 'Revenue orders on the web channel.'),
    col('mobile_orders', 'int', 'Revenue orders on the mobile channel.'),
    col('store_orders', 'int', 'Revenue orders in store.'),
    col('email_open_rate', 'double', 'Opens / emails sent; null when none were sent.'),
    col('email_click_rate', 'double', 'Clicks / emails sent; null when none were sent.'),
    col('ad_click_rate', 'double', 'Ad clicks / ad views; null without views.'),
    col('visit_conversion_rate', 'double', 'Web and mobile orders / web visits; null without visits.'),
    col(
      'active_channels',
      'int',
      'How many of email (opens, clicks), ads (clicks), web (visits), purchase (orders) saw activity.',
    ),
    col(
      'primary_channel',
      'string',
      'The channel with the most activity; ties go to purchase, web, email, ads; null without activity.',
    ),
    col(
      'channel_mix',
      'string',
      'Share of activity per active channel, in primary-channel order, for example email:0.50;web:0.30;purchase:0.10;ads:0.10.',
    ),
  ],
  partitionKeys: runPartitionKeys,
};
