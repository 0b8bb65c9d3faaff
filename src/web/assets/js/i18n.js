// zh-CN (default) and English strings. t(key, vars) looks the key up in the current language,
// falls back to English, then to the key itself (so a missing string shows, never breaks).
const STRINGS = {
  zh: {
    'app.title': '随访呼叫中心', 'lang.switch': 'English', 'nav.label': '主导航',
    'login.title': '登录', 'login.username': '用户名', 'login.password': '密码', 'login.submit': '登录', 'logout': '退出',
    'role.nurse': '护士', 'role.supervisor': '护士长', 'role.doctor': '医生', 'role.admin': '管理员',
    'nav.queue': '今日队列', 'nav.wallboard': '实时看板', 'nav.recordings': '录音', 'nav.reports': '报表',
    'nav.inbox': '预警收件箱', 'nav.users': '用户', 'nav.roster': '排班', 'nav.scripts': '路径与问卷', 'nav.system': '系统',
    'err.outside_calling_hours': '拒绝拨号：当前不在呼叫时段', 'err.do_not_call': '拒绝拨号：患者已登记为勿扰（不可呼叫）',
    'err.unavailable': '{what}：服务器尚未提供此功能（接口未上线）', 'err.network': '网络错误，请检查连接',
    'sev.routine': '常规', 'sev.high': '高', 'sev.urgent': '紧急', 'sev.emergency': '危急',
    'queue.title': '今日随访队列', 'queue.next': '领取下一个', 'queue.rebuild': '重建队列', 'queue.empty': '队列为空',
    'queue.patient': '患者', 'queue.step': '随访节点', 'queue.priority': '优先级', 'queue.overdue': '逾期', 'queue.attempts': '拨打次数',
    'queue.script': '问卷', 'queue.due': '到期', 'queue.days': '{n} 天', 'queue.closed': '当前不在呼叫时段', 'queue.hours': '呼叫时段',
    'queue.demo_hours': '演示模式：任何时间都可呼叫（suifang serve 使用医院的呼叫时段）',
    'queue.claimed_by_other': '他人处理中',
    'task.release': '释放任务', 'task.current': '当前任务', 'task.none': '未领取任务。按 N 领取下一个。',
    'patient.panel': '患者信息', 'patient.phone': '电话', 'patient.mrn': '病历号', 'patient.discharge': '出院小结',
    'patient.pathway': '随访路径', 'patient.history': '既往随访', 'patient.trends': '趋势', 'patient.no_data': '暂无数据',
    'patient.report': '打印随访报告', 'patient.alt': '备用联系人', 'patient.diagnoses': '诊断', 'patient.department': '科室',
    'trend.bp': '血压 (mmHg)', 'trend.weight': '体重 (kg)', 'trend.glucose': '血糖 (mmol/L)', 'trend.sbp': '收缩压', 'trend.dbp': '舒张压',
    'script.title': '随访问卷', 'script.saved': '已保存', 'script.saving': '保存中…', 'script.yes': '是', 'script.no': '否',
    'script.escalated': '已预警：{sev} → {who}', 'script.shown_if': '仅当：{cond}', 'script.none': '此任务无问卷',
    'script.systolic': '收缩压', 'script.diastolic': '舒张压',
    'script.add': '添加问卷（如回电时的症状分诊）', 'script.add_go': '添加',
    'script.advice_now': '请立即告知患者', 'script.advice': '请告知患者', 'script.advice_rule': '规则 {rule}',
    'disp.title': '结果与备注', 'disp.label': '通话结果', 'disp.note': '备注', 'disp.callback': '约定回电时间', 'disp.submit': '提交结果',
    'disp.completed': '已完成', 'disp.no_answer': '无人接听', 'disp.busy': '忙线', 'disp.wrong_number': '号码错误',
    'disp.refused': '拒绝随访', 'disp.callback_requested': '约定回电', 'disp.deceased': '已故', 'disp.done': '已记录：{d}',
    'phone.title': '软电话', 'phone.line': '坐席线路', 'phone.connect': '连接线路', 'phone.disconnect': '断开线路',
    'phone.call': '呼叫', 'phone.call_alt': '呼叫备用号', 'phone.hangup': '挂断', 'phone.mute': '静音', 'phone.unmute': '取消静音',
    'phone.hold': '保持', 'phone.resume': '恢复', 'phone.dtmf': '拨号盘', 'phone.state': '通话状态', 'phone.idle': '空闲',
    'phone.line_off': '线路未连接', 'phone.line_on': '线路已连接',
    'call.dialing': '拨号中', 'call.ringing': '振铃中', 'call.answered': '通话中', 'call.held': '保持中', 'call.ended': '已结束',
    'keys.title': '快捷键', 'keys.help': 'N 领取 · C 呼叫 · H 挂断 · M 静音 · R 释放 · D 结果 · ? 帮助',
    'wall.title': '实时看板', 'wall.agents': '坐席', 'wall.queue': '队列', 'wall.today': '今日', 'wall.escalations': '未关闭预警',
    'wall.waiting': '等待', 'wall.claimed': '处理中', 'wall.overdue': '逾期', 'wall.attempted': '已拨打', 'wall.reached': '已接通',
    'wall.completed': '已完成', 'wall.live': '通话中', 'agent.offline': '离线', 'agent.idle': '空闲', 'agent.on_call': '通话中', 'agent.wrap_up': '话后整理',
    'age.under_1h': '<1 小时', 'age.h1_to_4': '1–4 小时', 'age.h4_to_24': '4–24 小时', 'age.over_24h': '>24 小时', 'age.overdue_ack': '超时未确认', 'age.acknowledged': '已确认待处理',
    'live.title': '实时通话', 'live.none': '当前没有通话', 'live.listen': '监听', 'live.whisper': '耳语', 'live.barge': '强插', 'live.stop': '停止监听', 'live.line_hint': '监听、耳语、强插通过您的坐席线路进行，请先连接线路。',
    'rec.title': '录音浏览', 'rec.from': '开始日期', 'rec.to': '结束日期', 'rec.nurse': '护士', 'rec.patient': '患者（姓名/病历号）',
    'rec.disposition': '结果', 'rec.escalated': '有预警', 'rec.any': '全部', 'rec.filter': '筛选', 'rec.none': '没有符合条件的录音',
    'rec.search': '转写全文检索', 'rec.search_go': '检索', 'rec.play': '播放', 'rec.download': '下载', 'rec.duration': '时长',
    'rec.started': '开始时间', 'rec.qa': '质检', 'rec.transcript': '转写', 'rec.no_transcript': '暂无转写',
    'rec.agent': '护士', 'rec.patient_ch': '患者',
    'qa.title': '质检评分', 'qa.identity_checked': '核对身份', 'qa.consent_announced': '告知录音', 'qa.script_followed': '按问卷执行',
    'qa.red_flags_handled': '异常处理', 'qa.communication': '沟通', 'qa.documentation': '记录', 'qa.comment': '评语', 'qa.save': '保存评分',
    'qa.saved': '评分已保存：{total}/{max}', 'qa.0': '未做', 'qa.1': '部分', 'qa.2': '完成',
    'rep.title': '随访质量报表', 'rep.run': '生成', 'rep.csv': '导出 CSV', 'rep.metric': '指标', 'rep.value': '数值',
    'rep.coverage': '覆盖率（出院有随访）', 'rep.reach_rate': '接通率', 'rep.completion_rate': '完成率',
    'rep.dials_per_completed_contact': '每次完成随访的拨打次数', 'rep.hours_to_first_contact': '出院至首次接通（小时，中位数）',
    'rep.share_reached_within_2_business_days': '2 个工作日内接通比例', 'rep.minutes_to_acknowledge': '预警确认用时（分钟，中位数）',
    'rep.discharges': '出院人数', 'rep.tasks_due': '到期任务', 'rep.dials': '拨打次数', 'rep.escalations_opened': '新预警',
    'inbox.title': '预警收件箱', 'inbox.none': '没有待处理的预警', 'inbox.ack': '确认', 'inbox.resolve': '处理完成',
    'inbox.action': '处理措施', 'inbox.note': '处理说明', 'inbox.new': '新预警', 'inbox.evidence': '依据', 'inbox.advised': '已告知患者', 'inbox.opened': '开始时间',
    'inbox.status': '状态', 'inbox.level': '级别', 'inbox.call': '呼叫患者', 'inbox.excerpt': '相关录音片段', 'inbox.timeline': '患者时间线',
    'inbox.sound': '紧急预警声音提示', 'status.open': '待确认', 'status.acknowledged': '已确认', 'status.resolved': '已处理',
    'action.call_patient': '已电话联系患者', 'action.advise_er': '建议急诊', 'action.adjust_medication': '调整用药', 'action.book_visit': '预约复诊', 'action.other': '其他',
    'admin.status': '状态', 'admin.actions': '操作', 'admin.active': '正常', 'admin.disabled': '已停用', 'admin.disable': '停用', 'admin.enable': '启用',
    'admin.logout_everywhere': '全部下线', 'admin.reset_password': '重置密码', 'admin.new_password': '新密码', 'admin.sessions_ended': '已结束 {n} 个会话',
    'admin.users': '用户与角色', 'admin.new_user': '新建用户', 'admin.username': '用户名', 'admin.display_name': '姓名', 'admin.role': '角色',
    'admin.department': '科室', 'admin.password': '初始密码', 'admin.create': '创建', 'admin.departments': '科室',
    'admin.roster': '值班表', 'admin.on_duty': '值班医生', 'admin.backup': '备班', 'admin.head': '主任', 'admin.save': '保存',
    'admin.pathways': '随访路径', 'admin.scripts': '问卷', 'admin.validate': '校验问卷', 'admin.validate_go': '校验', 'admin.valid': '问卷有效',
    'admin.trunk': '中继状态', 'admin.webhooks': 'Webhook 投递', 'admin.audit': '审计链校验', 'admin.verify': '校验',
    'report.title': '患者随访报告', 'report.print': '打印', 'report.progress': '路径进度', 'report.answers': '随访回答',
    'report.escalations': '预警', 'report.generated': '生成时间', 'report.question': '问题', 'report.answer': '回答', 'report.step': '节点',
    'report.status': '状态', 'report.due': '到期', 'report.none': '无', 'report.answered': '回答时间',
    'task.status.pending': '待随访', 'task.status.completed': '已完成', 'task.status.unreachable': '无法联系', 'task.status.refused': '拒绝',
    'task.status.wrong_number': '号码错误', 'task.status.missed': '已错过', 'task.status.cancelled': '已取消',
  },
  en: {
    'app.title': 'Follow-up call center', 'lang.switch': '中文', 'nav.label': 'Main navigation',
    'login.title': 'Log in', 'login.username': 'Username', 'login.password': 'Password', 'login.submit': 'Log in', 'logout': 'Log out',
    'role.nurse': 'Nurse', 'role.supervisor': 'Supervisor', 'role.doctor': 'Doctor', 'role.admin': 'Admin',
    'nav.queue': 'Today\'s queue', 'nav.wallboard': 'Wallboard', 'nav.recordings': 'Recordings', 'nav.reports': 'Reports',
    'nav.inbox': 'Escalations', 'nav.users': 'Users', 'nav.roster': 'Roster', 'nav.scripts': 'Pathways & scripts', 'nav.system': 'System',
    'err.outside_calling_hours': 'Call refused: outside calling hours', 'err.do_not_call': 'Call refused: the patient is marked do-not-call',
    'err.unavailable': '{what}: this server does not offer it yet (endpoint missing)', 'err.network': 'Network error: check the connection',
    'sev.routine': 'routine', 'sev.high': 'high', 'sev.urgent': 'urgent', 'sev.emergency': 'emergency',
    'queue.title': 'Today\'s queue', 'queue.next': 'Claim next', 'queue.rebuild': 'Rebuild queue', 'queue.empty': 'The queue is empty',
    'queue.patient': 'Patient', 'queue.step': 'Step', 'queue.priority': 'Priority', 'queue.overdue': 'Overdue', 'queue.attempts': 'Attempts',
    'queue.script': 'Script', 'queue.due': 'Due', 'queue.days': '{n} d', 'queue.closed': 'Outside calling hours now', 'queue.hours': 'Calling hours',
    'queue.demo_hours': 'demo: patients may be called at any hour (suifang serve keeps the hospital\'s calling hours)',
    'queue.claimed_by_other': 'claimed',
    'task.release': 'Release task', 'task.current': 'Current task', 'task.none': 'No task claimed. Press N to claim the next one.',
    'patient.panel': 'Patient', 'patient.phone': 'Phone', 'patient.mrn': 'MRN', 'patient.discharge': 'Discharge summary',
    'patient.pathway': 'Pathway', 'patient.history': 'Previous follow-ups', 'patient.trends': 'Trends', 'patient.no_data': 'No data yet',
    'patient.report': 'Print follow-up report', 'patient.alt': 'Alternate contact', 'patient.diagnoses': 'Diagnoses', 'patient.department': 'Department',
    'trend.bp': 'Blood pressure (mmHg)', 'trend.weight': 'Weight (kg)', 'trend.glucose': 'Glucose (mmol/L)', 'trend.sbp': 'Systolic', 'trend.dbp': 'Diastolic',
    'script.title': 'Follow-up script', 'script.saved': 'Saved', 'script.saving': 'Saving…', 'script.yes': 'Yes', 'script.no': 'No',
    'script.escalated': 'Escalated: {sev} → {who}', 'script.shown_if': 'Only if: {cond}', 'script.none': 'This task has no script',
    'script.systolic': 'Systolic', 'script.diastolic': 'Diastolic',
    'script.add': 'Add a script (e.g. symptom triage on a call-back)', 'script.add_go': 'Add',
    'script.advice_now': 'Tell the patient now', 'script.advice': 'Tell the patient', 'script.advice_rule': 'rule {rule}',
    'disp.title': 'Outcome and notes', 'disp.label': 'Outcome', 'disp.note': 'Note', 'disp.callback': 'Call back at', 'disp.submit': 'Record outcome',
    'disp.completed': 'Completed', 'disp.no_answer': 'No answer', 'disp.busy': 'Busy', 'disp.wrong_number': 'Wrong number',
    'disp.refused': 'Refused', 'disp.callback_requested': 'Call back later', 'disp.deceased': 'Deceased', 'disp.done': 'Recorded: {d}',
    'phone.title': 'Softphone', 'phone.line': 'Agent line', 'phone.connect': 'Connect line', 'phone.disconnect': 'Disconnect line',
    'phone.call': 'Call', 'phone.call_alt': 'Call alternate', 'phone.hangup': 'Hang up', 'phone.mute': 'Mute', 'phone.unmute': 'Unmute',
    'phone.hold': 'Hold', 'phone.resume': 'Resume', 'phone.dtmf': 'Keypad', 'phone.state': 'Call state', 'phone.idle': 'idle',
    'phone.line_off': 'line not connected', 'phone.line_on': 'line connected',
    'call.dialing': 'dialing', 'call.ringing': 'ringing', 'call.answered': 'answered', 'call.held': 'on hold', 'call.ended': 'ended',
    'keys.title': 'Shortcuts', 'keys.help': 'N claim · C call · H hang up · M mute · R release · D outcome · ? help',
    'wall.title': 'Wallboard', 'wall.agents': 'Agents', 'wall.queue': 'Queue', 'wall.today': 'Today', 'wall.escalations': 'Open escalations',
    'wall.waiting': 'waiting', 'wall.claimed': 'claimed', 'wall.overdue': 'overdue', 'wall.attempted': 'attempted', 'wall.reached': 'reached',
    'wall.completed': 'completed', 'wall.live': 'live calls', 'agent.offline': 'offline', 'agent.idle': 'idle', 'agent.on_call': 'on call', 'agent.wrap_up': 'wrap-up',
    'age.under_1h': '< 1 h', 'age.h1_to_4': '1–4 h', 'age.h4_to_24': '4–24 h', 'age.over_24h': '> 24 h', 'age.overdue_ack': 'past ack deadline', 'age.acknowledged': 'acknowledged',
    'live.title': 'Live calls', 'live.none': 'No calls right now', 'live.listen': 'Listen', 'live.whisper': 'Whisper', 'live.barge': 'Barge', 'live.stop': 'Stop', 'live.line_hint': 'Listen, whisper and barge use your agent line: connect it first.',
    'rec.title': 'Recordings', 'rec.from': 'From', 'rec.to': 'To', 'rec.nurse': 'Nurse', 'rec.patient': 'Patient (name / MRN)',
    'rec.disposition': 'Outcome', 'rec.escalated': 'Escalated', 'rec.any': 'Any', 'rec.filter': 'Filter', 'rec.none': 'No recordings match',
    'rec.search': 'Search transcripts', 'rec.search_go': 'Search', 'rec.play': 'Play', 'rec.download': 'Download', 'rec.duration': 'Length',
    'rec.started': 'Started', 'rec.qa': 'QA', 'rec.transcript': 'Transcript', 'rec.no_transcript': 'No transcript yet',
    'rec.agent': 'Nurse', 'rec.patient_ch': 'Patient',
    'qa.title': 'QA score', 'qa.identity_checked': 'Identity checked', 'qa.consent_announced': 'Recording announced', 'qa.script_followed': 'Script followed',
    'qa.red_flags_handled': 'Red flags handled', 'qa.communication': 'Communication', 'qa.documentation': 'Documentation', 'qa.comment': 'Comment', 'qa.save': 'Save score',
    'qa.saved': 'Score saved: {total}/{max}', 'qa.0': 'not done', 'qa.1': 'partly', 'qa.2': 'fully',
    'rep.title': 'Follow-up quality report', 'rep.run': 'Run', 'rep.csv': 'Export CSV', 'rep.metric': 'Metric', 'rep.value': 'Value',
    'rep.coverage': 'Coverage (discharges with an attempt)', 'rep.reach_rate': 'Reach rate', 'rep.completion_rate': 'Completion rate',
    'rep.dials_per_completed_contact': 'Dials per completed contact', 'rep.hours_to_first_contact': 'Hours discharge → first contact (median)',
    'rep.share_reached_within_2_business_days': 'Reached within 2 business days', 'rep.minutes_to_acknowledge': 'Minutes to acknowledge (median)',
    'rep.discharges': 'Discharges', 'rep.tasks_due': 'Tasks due', 'rep.dials': 'Dials', 'rep.escalations_opened': 'Escalations opened',
    'inbox.title': 'Escalation inbox', 'inbox.none': 'Nothing waiting for you', 'inbox.ack': 'Acknowledge', 'inbox.resolve': 'Resolve',
    'inbox.action': 'Action', 'inbox.note': 'Note', 'inbox.new': 'New escalation', 'inbox.evidence': 'Evidence', 'inbox.advised': 'Patient advised', 'inbox.opened': 'Opened',
    'inbox.status': 'Status', 'inbox.level': 'Level', 'inbox.call': 'Call the patient', 'inbox.excerpt': 'Recording excerpt', 'inbox.timeline': 'Patient timeline',
    'inbox.sound': 'Sound for urgent escalations', 'status.open': 'open', 'status.acknowledged': 'acknowledged', 'status.resolved': 'resolved',
    'action.call_patient': 'Called the patient', 'action.advise_er': 'Advised the ER', 'action.adjust_medication': 'Adjusted medication', 'action.book_visit': 'Booked a visit', 'action.other': 'Other',
    'admin.status': 'Status', 'admin.actions': 'Actions', 'admin.active': 'active', 'admin.disabled': 'disabled', 'admin.disable': 'Disable', 'admin.enable': 'Enable',
    'admin.logout_everywhere': 'Log out everywhere', 'admin.reset_password': 'Reset password', 'admin.new_password': 'New password', 'admin.sessions_ended': '{n} sessions ended',
    'admin.users': 'Users and roles', 'admin.new_user': 'New user', 'admin.username': 'Username', 'admin.display_name': 'Name', 'admin.role': 'Role',
    'admin.department': 'Department', 'admin.password': 'Initial password', 'admin.create': 'Create', 'admin.departments': 'Departments',
    'admin.roster': 'Duty roster', 'admin.on_duty': 'On duty', 'admin.backup': 'Backup', 'admin.head': 'Head', 'admin.save': 'Save',
    'admin.pathways': 'Pathways', 'admin.scripts': 'Scripts', 'admin.validate': 'Validate a script', 'admin.validate_go': 'Validate', 'admin.valid': 'The script is valid',
    'admin.trunk': 'Trunk status', 'admin.webhooks': 'Webhook deliveries', 'admin.audit': 'Audit chain', 'admin.verify': 'Verify',
    'report.title': 'Patient follow-up report', 'report.print': 'Print', 'report.progress': 'Pathway progress', 'report.answers': 'Answers',
    'report.escalations': 'Escalations', 'report.generated': 'Generated', 'report.question': 'Question', 'report.answer': 'Answer', 'report.step': 'Step',
    'report.status': 'Status', 'report.due': 'Due', 'report.none': 'None', 'report.answered': 'Answered',
    'task.status.pending': 'pending', 'task.status.completed': 'completed', 'task.status.unreachable': 'unreachable', 'task.status.refused': 'refused',
    'task.status.wrong_number': 'wrong number', 'task.status.missed': 'missed', 'task.status.cancelled': 'cancelled',
  },
};

const KEY = 'suifang.lang';
let current = (typeof localStorage !== 'undefined' && localStorage.getItem(KEY)) || 'zh';
if (!STRINGS[current]) current = 'zh';

export const lang = () => current;

export function setLang(l) {
  current = STRINGS[l] ? l : 'zh';
  localStorage.setItem(KEY, current);
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
}

// A pathway step's name in the current language (tasks and answers carry `step_name` in
// English and `step_name_zh`, which may be missing for old tasks).
export const stepName = (row) => (current === 'zh' && row.step_name_zh) || row.step_name;

export function t(key, vars) {
  let s = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, v);
  return s;
}

/** Translates static markup: data-i18n (text) and data-i18n-label (aria-label). */
export function applyI18n(root = document) {
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
}
